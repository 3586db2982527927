#!/usr/bin/env python3
"""Soak test: mixed UDP and TCP load against `upcase server` for a while, checking every reply.

Starts the server (the release build unless --binary says otherwise), runs TCP and UDP clients
on loopback for --duration seconds, and prints the server's memory at the start and at the end,
and how many requests were answered, lost and wrong. Exits 1 if any reply was wrong or the
server died.

    cargo build --release
    python3 scripts/soak.py --duration 600

The clients, all on 127.0.0.0/8:
- TCP one-shot: connect, send a message, half-close, read to the end (the textbook's pattern);
- TCP ping-pong: one connection, a message, its reply, again;
- UDP ping-pong: a datagram, its reply, again (a reply not back within a second is lost).
Messages mix ASCII, multi-byte characters and bytes that are not UTF-8.
"""

import argparse
import os
import random
import socket
import subprocess
import sys
import threading
import time

WORDS = ["textbook", "socket", "straße", "ΐ", "naïve", "\udcff", "ok", "UDP", "tcp", "é"]


def message(rng):
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 40)))
    return text.encode("utf-8", "surrogateescape")


def upper(data):
    # Invalid bytes become lone surrogates, which upper() leaves alone: they come back as sent.
    return data.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape")


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, kind, outcome):
        with self.lock:
            key = (kind, outcome)
            self.counts[key] = self.counts.get(key, 0) + 1


def tcp_one_shot(port, stop, tally, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        request = message(rng)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(request)
                conn.shutdown(socket.SHUT_WR)
                reply = b""
                while chunk := conn.recv(65536):
                    reply += chunk
            tally.add("tcp one-shot", "answered" if reply == upper(request) else "wrong")
        except OSError:
            tally.add("tcp one-shot", "lost")


def tcp_ping_pong(port, stop, tally, seed):
    rng = random.Random(seed)
    conn = None
    while not stop.is_set():
        request = message(rng) + b"\n"
        try:
            if conn is None:
                conn = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn.sendall(request)
            expected = upper(request)
            reply = b""
            while len(reply) < len(expected):
                chunk = conn.recv(65536)
                if not chunk:
                    raise OSError("closed")
                reply += chunk
            tally.add("tcp ping-pong", "answered" if reply == expected else "wrong")
        except OSError:
            tally.add("tcp ping-pong", "lost")
            conn = None
    if conn is not None:
        conn.close()


def udp_ping_pong(port, stop, tally, seed):
    rng = random.Random(seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((f"127.0.0.{10 + seed % 200}", 0))
    sock.connect(("127.0.0.1", port))
    sock.settimeout(1)
    while not stop.is_set():
        request = message(rng)
        sock.send(request)
        try:
            reply = sock.recv(65536)
            tally.add("udp ping-pong", "answered" if reply == upper(request) else "wrong")
        except OSError:
            tally.add("udp ping-pong", "lost")
            while True:  # A late reply must not pass for the next one.
                try:
                    sock.setblocking(False)
                    sock.recv(65536)
                except OSError:
                    break
                finally:
                    sock.settimeout(1)
    sock.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of load")
    parser.add_argument("--binary", default="target/release/upcase")
    parser.add_argument("--clients", type=int, default=2, help="threads of each kind")
    args = parser.parse_args()

    # The load comes from one host; the per-source datagram limit would drop most of it.
    server = subprocess.Popen(
        [args.binary, "server", "--bind", "127.0.0.1", "--port", "0",
         "--max-datagrams-per-source", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready = [server.stdout.readline().decode() for _ in range(2)]
    port = int(ready[0].rsplit(":", 1)[1])
    time.sleep(0.5)
    rss_start = rss_kib(server.pid)

    stop = threading.Event()
    tally = Tally()
    workers = [
        threading.Thread(target=kind, args=(port, stop, tally, seed))
        for seed in range(args.clients)
        for kind in (tcp_one_shot, tcp_ping_pong, udp_ping_pong)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    rss_max = rss_start
    while time.monotonic() - started < args.duration and server.poll() is None:
        time.sleep(1)
        rss_max = max(rss_max, rss_kib(server.pid))
    stop.set()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    alive = server.poll() is None
    rss_end = rss_kib(server.pid) if alive else 0
    server.terminate()
    server.wait()

    print(f"soak: {elapsed:.0f} s, server memory {rss_start} KiB at start, {rss_end} KiB at end, "
          f"{rss_max} KiB at most")
    total = {"answered": 0, "lost": 0, "wrong": 0}
    for kind in ("tcp one-shot", "tcp ping-pong", "udp ping-pong"):
        row = {o: tally.counts.get((kind, o), 0) for o in total}
        for outcome, n in row.items():
            total[outcome] += n
        print(f"  {kind:14} answered {row['answered']:>9}  lost {row['lost']:>6}  wrong {row['wrong']:>3}")
    print(f"  {'all':14} answered {total['answered']:>9}  lost {total['lost']:>6}  wrong {total['wrong']:>3}")
    if not alive:
        print("the server died", file=sys.stderr)
    sys.exit(0 if alive and total["wrong"] == 0 else 1)


if __name__ == "__main__":
    main()

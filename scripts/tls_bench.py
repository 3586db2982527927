#!/usr/bin/env python3
"""TLS measured side by side in one run: upcase's TLS server and client beside the floor (rustls
itself, in memory, `crates/transport/examples/tls_floor.rs`), plain TCP through upcase, and socat.

    python3 scripts/tls_bench.py [--duration 3] [--repeat 3] [--stream-gib 1] [--no-build]

Makes a certificate with `upcase cert` (ECDSA P-256, as a newcomer gets), then, each --repeat
times with the servers taking turns, prints:
- handshakes: the server's CPU per full and per resumed handshake (16 connections, one per
  request) beside the floor's; user time (TLS's own arithmetic and rustls, what the floor
  measures) and user + system (with the kernel's TCP work for each connection, which an
  in-memory floor has none of);
- ping-pong: 100 connections each with one request in flight, TLS beside plain TCP, the
  server's CPU per reply;
- connection per request: upcase's TLS server beside `socat OPENSSL-LISTEN,fork SYSTEM:tr`;
- a stream of --stream-gib GiB through upcase's TLS server by `upcase client --tls` beside
  `socat - OPENSSL:`, and by `upcase client` through plain TCP.
Each figure is the median over the turns; each ratio is the median over the turns of the ratio
within a turn. Absolute figures drift between runs and machines; compare within one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the Server class, pinning, free ports, the peers' installation)

FLOOR = os.path.join(bench.ROOT, "target/release/examples/tls_floor")


def build():
    bench.run(["cargo", "build", "--release", "--quiet", "--bin", "upcase"])
    bench.run(["cargo", "build", "--release", "--quiet", "-p", "upcase-transport",
               "--example", "tls_floor"])


def user_and_total(server):
    """The server's user CPU seconds, and user + system, its children included."""
    user = total = 0
    for pid in [server.proc.pid] + bench.descendants(server.proc.pid):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        user += utime + cutime
        total += utime + stime + cutime + cstime
    return user / bench.TICK, total / bench.TICK


def upcase_tls(pki, transport="--tls"):
    flags = ["--tls-port", "0", "--cert", pki["cert"], "--key", pki["key"]]
    return bench.upcase_server([transport] + (flags if transport == "--tls" else []),
                               bench.SERVER_CPU)


def socat_tls(pki):
    port = bench.free_port()
    listen = (f"OPENSSL-LISTEN:{port},fork,reuseaddr,bind=127.0.0.1,verify=0,"
              f"cert={pki['cert']},key={pki['key']}")
    return bench.Server(["socat", listen, "SYSTEM:tr a-z A-Z"], port=port, cpu=bench.SERVER_CPU)


def load(server, flags, pki, duration):
    """upcase bench against `server`; its report with the server's CPU per reply added."""
    time.sleep(0.3)
    user0, total0 = user_and_total(server)
    command = [bench.UPCASE, "bench", "--host", "127.0.0.1", "--port", str(server.port),
               "--duration", f"{duration}s", "--timeout", "5s", "--json"] + flags
    if "--tls" in flags:
        command += ["--cacert", pki["cert"], "--servername", "localhost"]
    out = subprocess.run(bench.pinned(command, bench.CLIENT_CPU), capture_output=True, text=True)
    user1, total1 = user_and_total(server)
    if out.returncode != 0:
        sys.exit(f"upcase bench {' '.join(flags)} failed: {out.stderr.strip()}")
    report = json.loads(out.stdout)
    replies = report["replies"] or 1
    report["user_us"] = (user1 - user0) * 1e6 / replies
    report["total_us"] = (total1 - total0) * 1e6 / replies
    return report


def measured(start, flags, pki, duration):
    server = start()
    try:
        return load(server, flags, pki, duration)
    finally:
        server.stop()


SCENARIOS = [
    # name, how to start the server, the load's flags
    ("full handshakes", lambda pki: upcase_tls(pki), ["--tls", "--reconnect", "--conns", "16"]),
    ("resumed handshakes", lambda pki: upcase_tls(pki),
     ["--tls", "--reconnect", "--resume", "--conns", "16"]),
    ("TCP connection per request", lambda pki: upcase_tls(pki, "--tcp"),
     ["--tcp", "--reconnect", "--conns", "16"]),
    ("TLS ping-pong, 100 connections", lambda pki: upcase_tls(pki), ["--tls", "--conns", "100"]),
    ("TCP ping-pong, 100 connections", lambda pki: upcase_tls(pki, "--tcp"),
     ["--tcp", "--conns", "100"]),
    ("socat OPENSSL-LISTEN, connection per request", socat_tls,
     ["--tls", "--reconnect", "--conns", "16"]),
]


def stream_times(pki, gib):
    """Seconds for `gib` GiB through upcase servers: upcase client --tls and socat through the
    TLS server, and upcase client through the same server's plain TCP port, for the floor."""
    size = int(gib * (1 << 30))
    tls = bench.upcase_server(["--tls", "--tls-port", "0", "--cert", pki["cert"],
                               "--key", pki["key"]], None)
    tcp = bench.upcase_server(["--tcp"], None)
    clients = {
        "upcase client --tls": [bench.UPCASE, "client", "--tls", "--host", "127.0.0.1",
                                "--port", str(tls.port), "--cacert", pki["cert"],
                                "--servername", "localhost"],
        "socat -b 65536 - OPENSSL:": ["socat", "-b", "65536", "-",
                                      f"OPENSSL:127.0.0.1:{tls.port},cafile={pki['cert']},"
                                      "commonname=localhost"],
        "upcase client (plain TCP)": [bench.UPCASE, "client", "--host", "127.0.0.1",
                                      "--port", str(tcp.port)],
    }
    times = {}
    try:
        with bench.text_file(size, "upcase-tls-stream-") as data:
            for name, command in clients.items():
                times[name] = bench.stream_seconds(name, command, data.name)
    finally:
        tls.stop()
        tcp.stop()
    return times


ratio = bench.median_ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="turns of every measurement")
    parser.add_argument("--stream-gib", type=float, default=1, help="GiB streamed by clients")
    parser.add_argument("--no-build", action="store_true", help="use what is built already")
    args = parser.parse_args()
    if not args.no_build:
        build()
    bench.install_peers()
    with tempfile.TemporaryDirectory(prefix="upcase-tls-bench-") as directory:
        pki = {"cert": os.path.join(directory, "cert.pem"),
               "key": os.path.join(directory, "key.pem")}
        bench.run([bench.UPCASE, "cert", "--cert", pki["cert"], "--key", pki["key"]],
                  stdout=subprocess.DEVNULL)
        floors, runs, streams = [], {s[0]: [] for s in SCENARIOS}, []
        for turn in range(args.repeat):
            floor = subprocess.run(bench.pinned([FLOOR, pki["cert"], pki["key"],
                                                 str(args.duration / 2)], bench.SERVER_CPU),
                                   capture_output=True, text=True, check=True)
            floors.append(json.loads(floor.stdout))
            for name, start, flags in SCENARIOS:
                runs[name].append(measured(lambda: start(pki), flags, pki, args.duration))
                print(f"measured {name} ({turn + 1}/{args.repeat})", file=sys.stderr)
            if args.stream_gib > 0:
                streams.append(stream_times(pki, args.stream_gib))
        report(floors, runs, streams, args)


def report(floors, runs, streams, args):
    med = lambda rows, get: statistics.median(get(r) for r in rows)  # noqa: E731
    floor = floors[len(floors) // 2]
    print(f"Floor (rustls in memory, server side, {floor['cipher']}, {floor['key_exchange']}): "
          f"full handshake {med(floors, lambda f: f['full_handshake_us']):.1f} µs, resumed "
          f"{med(floors, lambda f: f['resumed_handshake_us']):.1f} µs, a 64-byte reply "
          f"{med(floors, lambda f: f['reply_64_us']):.2f} µs, sealing "
          f"{med(floors, lambda f: f['seal_gib_s']):.2f} GiB/s")
    print()
    print("| scenario | replies/s | server CPU µs/reply, user | user + system |")
    print("|---|---|---|---|")
    floor_of = {"full handshakes": "full_handshake_us",
                "resumed handshakes": "resumed_handshake_us"}
    for name, _start, _flags in SCENARIOS:
        rows = runs[name]
        cells = [f"{med(rows, lambda r: r['replies_per_second']):,.0f}"]
        for key in ("user_us", "total_us"):
            cell = f"{med(rows, lambda r: r[key]):.1f}"
            if name in floor_of:
                bases = [f[floor_of[name]] for f in floors]
                cell += f" ({ratio([r[key] for r in rows], bases):.2f}x floor)"
            if name.startswith("TLS ping-pong"):
                tcp = runs["TCP ping-pong, 100 connections"]
                cell += f" ({ratio([r[key] for r in rows], [t[key] for t in tcp]):.2f}x TCP)"
            cells.append(cell)
        if name.startswith("socat"):
            upcase = [r["replies_per_second"] for r in runs["full handshakes"]]
            theirs = [r["replies_per_second"] for r in rows]
            cells[0] += f" (upcase {ratio(upcase, theirs):.2f}x)"
        print(f"| {name} | " + " | ".join(cells) + " |")
    if streams:
        print()
        print(f"| client, {args.stream_gib:g} GiB through upcase server | time |")
        print("|---|---|")
        base = [s["socat -b 65536 - OPENSSL:"] for s in streams]
        for name in streams[0]:
            times = [s[name] for s in streams]
            print(f"| `{name}` | {statistics.median(times):.2f} s "
                  f"({ratio(times, base):.2f}x socat) |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The server's own instructions per reply, counted by callgrind: a figure that does not drift.

    python3 scripts/instructions.py [--udp | --reconnect] [--conns 100] [--window 1]
                                    [--duration 5] [--bind ADDR] [--transform NAME]
                                    [--keep DIR] [BINARY ...]

Starts each upcase binary (the release build by default; name older builds to compare) under
`valgrind --tool=callgrind` with one worker, loads it with `upcase bench` for --duration seconds,
stops it with SIGINT, and prints the instructions the server ran in user space (its threads and
the libraries it calls, not the kernel) divided by the replies. Under callgrind the server runs
some fifty times slower, so the count includes a start-up share that is larger the fewer the
replies; compare builds at the same settings. The server binds 127.0.0.1, or --bind (`0.0.0.0`
or `::`, every address, where a UDP socket learns each datagram's destination). With
--transform, the server runs that transform and the load checks its replies by it (`echo`
sends every datagram through the echo-loop rule). With --keep, each run's callgrind output is kept
in DIR, for `callgrind_annotate` to show where the instructions go. Installs valgrind if it is
missing (apt-get, as root).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPCASE = os.path.join(ROOT, "target/release/upcase")


def install_valgrind():
    if shutil.which("valgrind") is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)


def count(binary, transport, load, duration, bind, keep=None):
    """(replies, instructions) for one run of `binary`; `load` holds the load's flags and the
    transform's, which the server is given too."""
    transform = load[load.index("--transform"):][:2] if "--transform" in load else []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "server",
             f"--{transport}", "--bind", bind, "--port", "0", "--workers", "1",
             "--max-connections-per-source", "0", "--max-datagrams-per-source", "0",
             *transform],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = server.stdout.readline()
            if not line.startswith("listening on"):
                sys.exit(f"{binary} did not start: {line.strip() or 'no ready line'}")
            port = line.strip().rsplit(":", 1)[-1]
            bench = subprocess.run(
                [UPCASE, "bench", f"--{transport}", "--host", "127.0.0.1", "--port", port,
                 *load, "--duration", f"{duration}s", "--json"],
                capture_output=True, text=True, check=True)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        replies = json.loads(bench.stdout)["replies"]
        with open(out) as profile:
            summary = next(line for line in profile if line.startswith("summary:"))
        if keep is not None:
            shutil.copy(out, keep)
        return replies, int(summary.split()[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--udp", action="store_true", help="load UDP instead of TCP")
    kind.add_argument("--reconnect", action="store_true",
                      help="TCP, a connection per request (the textbook's pattern)")
    parser.add_argument("--conns", type=int, default=100, help="connections or clients")
    parser.add_argument("--window", type=int, default=1, help="requests in flight per client")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load")
    parser.add_argument("--bind", default="127.0.0.1",
                        help="the server's address (the load goes to 127.0.0.1 either way)")
    parser.add_argument("--transform", metavar="NAME",
                        help="the server's transform, which the load checks replies by")
    parser.add_argument("--keep", metavar="DIR", help="keep each run's callgrind output here")
    parser.add_argument("binaries", nargs="*", default=[UPCASE], help="upcase builds to count")
    args = parser.parse_args()
    install_valgrind()
    transport = "udp" if args.udp else "tcp"
    load = ["--conns", str(args.conns), "--window", str(args.window)]
    if args.reconnect:
        load.append("--reconnect")
    if args.transform:
        load += ["--transform", args.transform]
    print(f"| build | replies | instructions per reply ({transport}, {' '.join(load)}, "
          f"bound to {args.bind}) |")
    print("|---|---|---|")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
    for index, binary in enumerate(args.binaries):
        keep = os.path.join(args.keep, f"callgrind.out.{index}") if args.keep else None
        replies, instructions = count(binary, transport, load, args.duration, args.bind, keep)
        print(f"| {binary} | {replies:,} | {instructions / replies:,.0f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""QUIC measured side by side in one run: upcase over QUIC beside a naive quinn server
(`examples/naive_quic_server.rs`), beside upcase over TLS, and beside the plain UDP floor
(`floor/server.c`), all loaded by `upcase bench`.

    python3 scripts/quic_bench.py [--duration 3] [--repeat 3] [--stream-gib 1] [--no-build]

Each --repeat turn measures, the servers taking turns (server on CPU 0, load generator on
CPU 1):
- 100 requests in flight: QUIC as 100 streams on one connection (upcase, upcase with one
  worker, the naive quinn server), TLS as 100 connections, UDP as 100 datagrams on one socket
  against the floor; replies/s and the server's CPU per reply (user + system, /proc);
- handshakes: a connection per request (16 at once), QUIC beside TLS's full handshakes;
- one stream of --stream-gib GiB through `upcase client --quic` beside `upcase client --tls`.
Each figure is the median over the turns; each ratio the median of the ratios within a turn.
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
import bench  # noqa: E402  (the Server class, pinning, free ports, the floor)

NAIVE_QUIC = os.path.join(bench.ROOT, "target/release/examples/naive_quic_server")


def build():
    bench.run(["cargo", "build", "--release", "--quiet", "--bin", "upcase",
               "--example", "naive_quic_server"])
    bench.run(["cc", "-O2", "-o", bench.FLOOR, "floor/server.c"])


def upcase(pki, transport, more=()):
    port_flag = {"--quic": "--quic-port", "--tls": "--tls-port"}[transport]
    return bench.upcase_server([transport, port_flag, "0", "--cert", pki["cert"], "--key",
                                pki["key"]] + list(more), bench.SERVER_CPU)


SERVERS = {
    "upcase quic": lambda pki: upcase(pki, "--quic"),
    "upcase quic, 1 worker": lambda pki: upcase(pki, "--quic", ["--workers", "1"]),
    "naive quinn": lambda pki: bench.Server([NAIVE_QUIC, "0", pki["cert"], pki["key"]],
                                            cpu=bench.SERVER_CPU),
    "upcase tls": lambda pki: upcase(pki, "--tls"),
    "floor (UDP)": lambda pki: bench.Server([bench.FLOOR, "0"], cpu=bench.SERVER_CPU),
}

# name, servers, the load's flags
SCENARIOS = [
    ("100 in flight", {
        "upcase quic": ["--quic", "--conns", "1", "--window", "100"],
        "upcase quic, 1 worker": ["--quic", "--conns", "1", "--window", "100"],
        "naive quinn": ["--quic", "--conns", "1", "--window", "100"],
        "upcase tls": ["--tls", "--conns", "100"],
        "floor (UDP)": ["--udp", "--conns", "1", "--window", "100"],
    }),
    ("100 in flight on 4 connections", {
        "upcase quic": ["--quic", "--conns", "4", "--window", "25"],
        "upcase quic, 1 worker": ["--quic", "--conns", "4", "--window", "25"],
        "naive quinn": ["--quic", "--conns", "4", "--window", "25"],
    }),
    ("a connection per request", {
        "upcase quic": ["--quic", "--reconnect", "--conns", "16"],
        "naive quinn": ["--quic", "--reconnect", "--conns", "16"],
        "upcase tls": ["--tls", "--reconnect", "--conns", "16"],
    }),
]


def measured(start, flags, pki, duration):
    server = start(pki)
    try:
        time.sleep(0.3)
        before = server.cpu_seconds()
        command = [bench.UPCASE, "bench", "--host", "127.0.0.1", "--port", str(server.port),
                   "--duration", f"{duration}s", "--timeout", "5s", "--json"] + flags
        if "--udp" not in flags:
            command += ["--cacert", pki["cert"], "--servername", "localhost"]
        out = subprocess.run(bench.pinned(command, bench.CLIENT_CPU), capture_output=True,
                             text=True)
        cpu = server.cpu_seconds() - before
    finally:
        server.stop()
    if out.returncode != 0:
        sys.exit(f"upcase bench {' '.join(flags)} failed: {out.stderr.strip()}")
    report = json.loads(out.stdout)
    report["cpu_us"] = cpu * 1e6 / max(report["replies"], 1)
    return report


def stream_seconds(pki, gib):
    """Seconds for `gib` GiB through one stream: upcase client --quic, then --tls."""
    size = int(gib * (1 << 30))
    times = {}
    with bench.text_file(size, "upcase-quic-stream-") as data:
        for transport in ("--quic", "--tls"):
            server = bench.upcase_server([transport, f"{transport}-port", "0", "--cert",
                                          pki["cert"], "--key", pki["key"]], None)
            try:
                command = [bench.UPCASE, "client", transport, "--host", "127.0.0.1", "--port",
                           str(server.port), "--cacert", pki["cert"], "--servername",
                           "localhost"]
                times[transport] = bench.stream_seconds(
                    f"upcase client {transport}", command, data.name)
            finally:
                server.stop()
    return times


ratio = bench.median_ratio


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="turns of every measurement")
    parser.add_argument("--stream-gib", type=float, default=1, help="GiB through one stream")
    parser.add_argument("--no-build", action="store_true", help="use what is built already")
    args = parser.parse_args()
    if not args.no_build:
        build()
    with tempfile.TemporaryDirectory(prefix="upcase-quic-bench-") as directory:
        pki = {"cert": os.path.join(directory, "cert.pem"),
               "key": os.path.join(directory, "key.pem")}
        bench.run([bench.UPCASE, "cert", "--cert", pki["cert"], "--key", pki["key"]],
                  stdout=subprocess.DEVNULL)
        runs = {(s, n): [] for s, servers in SCENARIOS for n in servers}
        streams = []
        for turn in range(args.repeat):
            for scenario, servers in SCENARIOS:
                for name, flags in servers.items():
                    runs[(scenario, name)].append(
                        measured(SERVERS[name], flags, pki, args.duration))
                    print(f"measured {scenario} on {name} ({turn + 1}/{args.repeat})",
                          file=sys.stderr)
            if args.stream_gib > 0:
                streams.append(stream_seconds(pki, args.stream_gib))
        report(runs, streams, args)


def report(runs, streams, args):
    print("| scenario | server | replies/s | server CPU µs/reply |")
    print("|---|---|---|---|")
    for scenario, servers in SCENARIOS:
        base = "naive quinn" if "naive quinn" in servers else None
        for name in servers:
            rows = runs[(scenario, name)]
            rate = [r["replies_per_second"] for r in rows]
            cpu = [r["cpu_us"] for r in rows]
            cells = [f"{statistics.median(rate):,.0f}", f"{statistics.median(cpu):.2f}"]
            if base and name != base:
                theirs = runs[(scenario, base)]
                cells[0] += f" ({ratio(rate, [r['replies_per_second'] for r in theirs]):.2f}x naive)"
                cells[1] += f" ({ratio(cpu, [r['cpu_us'] for r in theirs]):.2f}x naive)"
            if scenario.startswith("a connection") and name == "upcase quic":
                tls = [r["replies_per_second"] for r in runs[(scenario, "upcase tls")]]
                cells[0] += f" ({ratio(rate, tls):.2f}x TLS)"
            print(f"| {scenario} | {name} | " + " | ".join(cells) + " |")
    if streams:
        quic = [s["--quic"] for s in streams]
        tls = [s["--tls"] for s in streams]
        print()
        print(f"| {args.stream_gib:g} GiB through one stream | time | throughput vs TLS |")
        print("|---|---|---|")
        print(f"| `upcase client --quic` | {statistics.median(quic):.2f} s | "
              f"{ratio(tls, quic):.2f}x |")
        print(f"| `upcase client --tls` | {statistics.median(tls):.2f} s | 1.00x |")


if __name__ == "__main__":
    main()

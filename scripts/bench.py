#!/usr/bin/env python3
"""Whole-server benchmarks: upcase beside its peers, measured in one run with one load generator.

    python3 scripts/bench.py [--duration 3] [--repeat 3] [--idle 10000] [--only TEXT] [--servers A,B]
                             [--compare OTHER_UPCASE_BINARY] [--clients] [--stream-gib 1]
                             [--start-runs 200] [--generators]

Builds what it needs (the release binary, the naive tokio example, the C floor), installs socat
if it is missing (apt-get, as root), starts each server in turn on loopback, loads it with
`upcase bench`, and prints a Markdown table: replies per second, the server's CPU time per reply
(utime + stime from /proc, its threads and child processes included) and latency percentiles,
each also as a ratio to the floor. Each cell is measured --repeat times, the servers taking
turns, and the run with the median replies/s is shown; its ratio is the median, over the
turns, of the figure over the floor's in the same turn. Then the server memory held per idle
TCP connection, and the client table: `upcase client`, socat and nc each streaming a file of
--stream-gib GiB through one upcase server, and their one-shot start-up beside nc's (with
--clients, those tables alone); and the generator table: upcase bench beside floor/loadgen.c,
the cheapest load generator this machine can run, against the floor server (with
--generators, that table alone; with --compare, the other build's generator beside it).
Absolute figures drift between runs and machines; compare within one run.
"""

import argparse
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPCASE = os.path.join(ROOT, "target/release/upcase")
NAIVE = os.path.join(ROOT, "target/release/examples/naive_server")
FLOOR = os.path.join(ROOT, "target/floor")
LOADGEN = os.path.join(ROOT, "target/loadgen")
TEXTBOOK = os.path.join(ROOT, "tests/textbook")
TICK = os.sysconf("SC_CLK_TCK")

# (name, upcase bench flags, what it needs: "udp", "tcp" (persistent) or "reconnect")
# name, load generator flags, what the server must serve, whether server and load generator
# are pinned to a CPU each
SCENARIOS = [
    ("UDP ping-pong, 1 client", ["--udp"], "udp", True),
    ("UDP, 2 clients x 64 in flight", ["--udp", "--conns", "2", "--window", "64"], "udp", False),
    ("TCP ping-pong, 1 connection", ["--tcp"], "tcp", True),
    ("TCP ping-pong, 100 connections", ["--tcp", "--conns", "100"], "tcp", False),
    ("TCP connect-send-receive-close", ["--reconnect"], "reconnect", False),
    # 1,024 requests of 1 MiB: a 1 GiB stream, however long it takes.
    ("TCP stream, 1 GiB (1 MiB x 4 in flight)",
     ["--tcp", "--size", "1048576", "--window", "4", "--requests", "1024"], "tcp", False),
]

# A ping-pong round trip costs three times as much when the two sides wake each other across
# CPUs as when they share one, and where the scheduler puts them changes from run to run. Pinned,
# the server on one CPU and the load generator on another, every round trip crosses CPUs, as it
# would cross a network.
SERVER_CPU, CLIENT_CPU = "0", "1"


def pinned(cmd, cpu):
    return ["taskset", "-c", cpu] + cmd


def run(cmd, **kw):
    subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def build():
    run(["cargo", "build", "--release", "--quiet", "--bin", "upcase", "--example", "naive_server"])
    run(["cc", "-O2", "-o", FLOOR, "floor/server.c"])
    run(["cc", "-O2", "-o", LOADGEN, "floor/loadgen.c"])


def install_peers():
    """socat and nc are peers; install them where they are missing (apt-get, as root)."""
    missing = [package for command, package in
               [("socat", "socat"), ("nc.openbsd", "netcat-openbsd"), ("/usr/bin/time", "time"),
                ("hyperfine", "hyperfine")]
               if shutil.which(command) is None]
    if missing:
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "coreutils"] + missing)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process whose ready line names its port."""

    def __init__(self, cmd, port=None, cpu=None):
        if cpu is not None:
            cmd = pinned(cmd, cpu)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        if port is None:
            line = self.proc.stdout.readline().decode()
            port = int(line.strip().rsplit(":", 1)[-1].rsplit(" ", 1)[-1])
        else:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.05)
        self.port = port

    def cpu_seconds(self):
        """CPU time of the server and every process under it, reaped children included."""
        total = 0
        for pid in [self.proc.pid] + descendants(self.proc.pid):
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        return total / TICK

    def rss_kib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self):
        os.killpg(self.proc.pid, 9)
        self.proc.wait()


def descendants(pid):
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = open(f"/proc/{parent}/task/{parent}/children").read().split()
        except OSError:
            continue
        for child in map(int, children):
            found.append(child)
            frontier.append(child)
    return found


SERVERS = [
    # name, how to start it (for udp, tcp, reconnect; on a CPU or any), what it serves
    ("floor", lambda kind, cpu: Server([FLOOR, "0"], cpu=cpu), {"udp", "tcp", "reconnect"}),
    ("upcase", lambda kind, cpu: upcase_server([], cpu), {"udp", "tcp", "reconnect"}),
    ("naive tokio", lambda kind, cpu: Server([NAIVE, "0"], cpu=cpu),
     {"udp", "tcp", "reconnect"}),
    ("textbook Python", lambda kind, cpu: Server(
        ["python3", os.path.join(TEXTBOOK, "UDPServer.py" if kind == "udp" else "TCPServer.py")],
        cpu=cpu),
     {"udp", "reconnect"}),
    ("socat + tr", lambda kind, cpu: (lambda p: Server(
        ["socat", f"TCP-LISTEN:{p},fork,reuseaddr,bind=127.0.0.1",
         "SYSTEM:stdbuf -o0 tr a-z A-Z"], port=p, cpu=cpu))(free_port()),
     {"tcp", "reconnect"}),
]


# Measured only when named by --servers: upcase on one worker thread, to show the scaling.
EXTRA_SERVERS = [
    ("upcase 1 worker", lambda kind, cpu: upcase_server(["--workers", "1"], cpu),
     {"udp", "tcp", "reconnect"}),
]


def upcase_server(flags, cpu, binary=UPCASE):
    """upcase with its per-source limits off: the load comes from one address."""
    return Server([binary, "server", "--bind", "127.0.0.1", "--port", "0",
                   "--max-datagrams-per-source", "0", "--max-connections-per-source", "0"]
                  + flags, cpu=cpu)


def measure(server_entry, scenario, duration):
    name, start, serves = server_entry
    label, flags, kind, pin = scenario
    if kind not in serves:
        return None
    pin = pin and len(os.sched_getaffinity(0)) >= 2
    server = start(kind, SERVER_CPU if pin else None)
    # A scenario bounded by its number of requests runs until they are answered.
    limit = [] if "--requests" in flags else ["--duration", f"{duration}s"]
    load = [UPCASE, "bench", "--host", "127.0.0.1", "--port", str(server.port),
            "--timeout", "5s", "--json"] + limit + flags
    try:
        time.sleep(0.3)
        before = server.cpu_seconds()
        out = subprocess.run(
            pinned(load, CLIENT_CPU) if pin else load,
            cwd=ROOT, capture_output=True, text=True, timeout=duration + 300)
        cpu = server.cpu_seconds() - before
    finally:
        server.stop()
    if not out.stdout.strip():
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no output"}
    report = json.loads(out.stdout)
    report["cpu_us_per_reply"] = cpu * 1e6 / report["replies"] if report["replies"] else None
    report["ok"] = out.returncode == 0
    return report


def median(reports):
    """The run with the median replies/s, so that its figures belong together; any failure wins."""
    if any(r is None for r in reports):
        return None
    failed = [r for r in reports if not usable(r) or r.get("lost") or r.get("wrong")]
    if failed:
        return failed[0]
    ranked = sorted(reports, key=lambda r: r["replies_per_second"])
    return ranked[len(ranked) // 2]


def idle_memory(server_entry, count):
    name, start, serves = server_entry
    if "tcp" not in serves or name.startswith("socat"):
        return None  # socat forks a process per connection: 10,000 processes is another test
    server = start("tcp", None)
    conns = []
    try:
        time.sleep(0.3)
        before = server.rss_kib()
        for _ in range(count):
            conns.append(socket.create_connection(("127.0.0.1", server.port)))
        time.sleep(1)
        after = server.rss_kib()
    finally:
        for c in conns:
            c.close()
        server.stop()
    return (after - before) / count


# Clients streaming a file through one upcase server: name, command for the server's port.
CLIENTS = [
    ("upcase client", lambda port: [UPCASE, "client", "--host", "127.0.0.1", "--port", str(port)]),
    ("socat -b 65536", lambda port: ["socat", "-b", "65536", "-",
                                     f"TCP:127.0.0.1:{port},shut-down"]),
    # OpenBSD's nc by its own name: ncat (a TLS peer of the tests) may hold the name `nc`.
    ("nc -N", lambda port: ["nc.openbsd", "-N", "127.0.0.1", str(port)]),
]


@contextlib.contextmanager
def text_file(size, prefix):
    """A temporary file of `size` bytes of lines of text, for clients to stream through."""
    import tempfile
    line = b"the quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopq\n"
    with tempfile.NamedTemporaryFile(prefix=prefix) as data:
        block = line * ((1 << 20) // len(line) + 1)
        written = 0
        while written < size:
            n = min(len(block), size - written)
            data.write(block[:n])
            written += n
        data.flush()
        yield data


def stream_seconds(name, command, path):
    """Seconds `command` takes to stream the file at `path` through to /dev/null; exits,
    naming `name`, if it fails."""
    with open(path, "rb") as stdin, open(os.devnull, "wb") as stdout:
        started = time.monotonic()
        done = subprocess.run(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                              text=True)
        elapsed = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{name} failed: {done.stderr.strip()}")
    return elapsed


def median_ratio(values, bases):
    """The median of the ratios of `values` to `bases`, taken turn by turn."""
    return statistics.median(v / b for v, b in zip(values, bases))


def client_table(gib, repeat):
    """Each client streams `gib` GiB of text from a file through the same `upcase server --tcp`
    to /dev/null, `repeat` times in turn: the median time and CPU time (user + system), the
    median over the turns of the time over socat's in the same turn, and the most memory any
    run held."""
    size = int(gib * (1 << 30))
    with text_file(size, "upcase-stream-") as data:
        server = upcase_server(["--tcp"], None)
        times = {name: [] for name, _ in CLIENTS}
        peaks = {name: 0 for name, _ in CLIENTS}
        cpus = {name: [] for name, _ in CLIENTS}
        try:
            for turn in range(repeat):
                # Each turn starts with the next client, so that none is always first.
                shift = turn % len(CLIENTS)
                for name, command in CLIENTS[shift:] + CLIENTS[:shift]:
                    # GNU time reports the client's own peak memory: a child forked from
                    # this Python process would count Python's pages, held until its exec.
                    timed = ["/usr/bin/time", "-f", "%e %M %U %S"] + command(server.port)
                    with open(data.name, "rb") as stdin, open(os.devnull, "wb") as stdout:
                        done = subprocess.run(timed, stdin=stdin, stdout=stdout,
                                              stderr=subprocess.PIPE, text=True)
                    if done.returncode != 0:
                        sys.exit(f"{name} failed streaming through upcase: {done.stderr.strip()}")
                    elapsed, kib, user, system = done.stderr.strip().splitlines()[-1].split()
                    times[name].append(float(elapsed))
                    cpus[name].append(float(user) + float(system))
                    peaks[name] = max(peaks[name], int(kib))
                    print(f"measured {name} streaming ({turn + 1}/{repeat})", file=sys.stderr)
        finally:
            server.stop()
    # As in the server tables, a ratio within one turn: the machine's drift moves every client
    # of a turn together.
    base = times["socat -b 65536"]
    print(f"| client, {gib:g} GiB through upcase server --tcp | time | client CPU | max RSS |")
    print("|---|---|---|---|")
    for name, _ in CLIENTS:
        median_time = statistics.median(times[name])
        ratio = statistics.median(t / b for t, b in zip(times[name], base))
        print(f"| `{name}` | {median_time:.2f} s ({ratio:.2f}x socat) "
              f"| {statistics.median(cpus[name]):.2f} s | {peaks[name] / 1024:.1f} MB |")


# The generator table's scenarios: name, upcase bench flags, the C generator's transport,
# connections and window.
GENERATOR_SCENARIOS = [
    ("TCP, 100 connections x 1", ["--tcp", "--conns", "100"], "tcp", 100, 1),
    ("UDP, 2 sockets x 64", ["--udp", "--conns", "2", "--window", "64"], "udp", 2, 64),
]

def bench_command(binary, threads=None):
    """`upcase bench` of `binary` against the floor, as (flags, transport, conns, window, port,
    seconds) ask; with `threads`, on that many threads."""
    extra = ["--threads", str(threads)] if threads else []
    return lambda flags, kind, conns, window, port, secs: (
        [binary, "bench", "--host", "127.0.0.1", "--port", str(port), "--duration", f"{secs}s",
         "--json"] + extra + flags)


def generators(compare=""):
    """The generators of the table, the C generator last (the ratios' base); with `compare`,
    that build's upcase bench too."""
    chosen = [("upcase bench", bench_command(UPCASE)),
              ("upcase bench --threads 1", bench_command(UPCASE, 1))]
    if compare:
        other = os.path.abspath(compare)
        chosen += [(f"upcase bench at {compare}", bench_command(other)),
                   (f"upcase bench --threads 1 at {compare}", bench_command(other, 1))]
    return chosen + [("C generator (floor/loadgen.c)", lambda flags, kind, conns, window, port,
                      secs: [LOADGEN, kind, str(port), str(conns), str(window), str(secs)])]


def generator_table(duration, repeat, compare=""):
    """Each generator loads the floor server for `duration` seconds, `repeat` turns in rotating
    order: the median replies/s and the generator's own CPU (user + system, from GNU time) per
    reply, each also as the median over the turns of its ratio to the C generator's. With
    `compare`, that build's generator takes its turns too."""
    chosen = generators(compare)
    print("| scenario, against the floor server | generator | replies/s | generator CPU per reply |")
    print("|---|---|---|---|")
    for label, flags, kind, conns, window in GENERATOR_SCENARIOS:
        figures = {name: [] for name, _ in chosen}
        floor = Server([FLOOR, "0"])
        try:
            for turn in range(repeat):
                shift = turn % len(chosen)
                for name, command in chosen[shift:] + chosen[:shift]:
                    timed = ["/usr/bin/time", "-f", "%U %S"] + command(
                        flags, kind, conns, window, floor.port, duration)
                    done = subprocess.run(timed, capture_output=True, text=True,
                                          timeout=duration + 60)
                    if done.returncode != 0:
                        sys.exit(f"{name} failed: {done.stderr.strip()}")
                    report = json.loads(done.stdout.strip().splitlines()[-1])
                    user, system = done.stderr.strip().splitlines()[-1].split()
                    rate = report["replies_per_second"]
                    cpu = (float(user) + float(system)) * 1e6 / max(report["replies"], 1)
                    figures[name].append((rate, cpu))
                    print(f"measured {name}, {label} ({turn + 1}/{repeat})", file=sys.stderr)
        finally:
            floor.stop()
        base = figures[chosen[-1][0]]
        for name, _ in chosen:
            rates = [f[0] for f in figures[name]]
            cpus = [f[1] for f in figures[name]]
            rate_ratio = statistics.median(f[0] / b[0] for f, b in zip(figures[name], base))
            cpu_ratio = statistics.median(f[1] / b[1] for f, b in zip(figures[name], base))
            print(f"| {label} | {name} | {statistics.median(rates):,.0f} ({rate_ratio:.2f}x) "
                  f"| {statistics.median(cpus):.2f} µs ({cpu_ratio:.2f}x) |")


# One-shot runs, each through `sh -c` as a script calls them, with one line on stdin (or, for
# the last, the message as words).
STARTS = [
    ("nc -N 127.0.0.1", "nc.openbsd -N 127.0.0.1 {port} < {msg}"),
    ("upcase client", "{upcase} client --port {port} < {msg}"),
    ("upcase client --host 127.0.0.1", "{upcase} client --host 127.0.0.1 --port {port} < {msg}"),
    ("upcase client, message as words", "{upcase} client --port {port} hello world"),
]


def start_table(repeat, runs, compare=""):
    """Each one-shot command `runs` times under hyperfine, `repeat` turns with the order
    rotating; the median of the turns' mean times, and the median over the turns of the time
    over nc's in the same turn. With `compare`, that build's one-shot client too."""
    starts = STARTS + ([(f"upcase client at {compare}",
                         os.path.abspath(compare) + " client --port {port} < {msg}")]
                       if compare else [])
    import tempfile
    with tempfile.NamedTemporaryFile("w", prefix="upcase-msg-") as msg:
        msg.write("hello world\n")
        msg.flush()
        server = upcase_server(["--tcp"], None)
        means = {name: [] for name, _ in starts}
        try:
            for turn in range(repeat):
                shift = turn % len(starts)
                for name, template in starts[shift:] + starts[:shift]:
                    command = template.format(upcase=UPCASE, port=server.port, msg=msg.name)
                    means[name].append(hyperfine_mean(f"sh -c '{command}'", runs))
                    print(f"measured the start-up of {name} ({turn + 1}/{repeat})",
                          file=sys.stderr)
        finally:
            server.stop()
    base = means[STARTS[0][0]]
    print(f"| one-shot, through sh -c, {runs} runs x {repeat} | time a run | against nc |")
    print("|---|---|---|")
    for name, _ in starts:
        ratio = statistics.median(m / b for m, b in zip(means[name], base))
        print(f"| `{name}` | {statistics.median(means[name]) * 1e3:.2f} ms | {ratio:.2f}x |")


def hyperfine_mean(command, runs):
    import tempfile
    with tempfile.NamedTemporaryFile(prefix="upcase-hyperfine-", suffix=".json") as out:
        run(["hyperfine", "-N", "--warmup", "30", "--runs", str(runs), "--style", "none",
             "--export-json", out.name, command], stdout=subprocess.DEVNULL)
        return json.load(open(out.name))["results"][0]["mean"]


def paired_ratio(reports, floor_reports, get):
    """The median, over the turns, of a server's figure over the floor's in the same turn.

    The machine drifts between states that move every server's figures together, so a ratio
    within one turn is steadier than a ratio of two medians taken from different turns."""
    ratios = []
    for report, floor in zip(reports, floor_reports):
        if not usable(report) or not usable(floor):
            continue
        value, base = get(report), get(floor)
        if value is not None and base:
            ratios.append(value / base)
    if not ratios:
        return ""
    return f" ({statistics.median(ratios):.2f}x)"


def usable(report):
    return report is not None and "error" not in report and report.get("ok", True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=3, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3,
                        help="measurements of each cell, servers taking turns; the median is shown")
    parser.add_argument("--idle", type=int, default=10000,
                        help="idle connections to hold (0 to skip the memory measure)")
    parser.add_argument("--only", default="", help="scenarios whose name holds this text")
    parser.add_argument("--servers", default="",
                        help="comma-separated servers to measure [default: all]")
    parser.add_argument("--no-build", action="store_true", help="use what is built already")
    parser.add_argument("--compare", metavar="BINARY", default="",
                        help="another upcase build, measured beside this one as 'upcase at BINARY'")
    parser.add_argument("--clients", action="store_true",
                        help="only the client table: upcase client, socat and nc streaming a file")
    parser.add_argument("--stream-gib", type=float, default=1,
                        help="GiB each client streams in the client table (0 to skip it)")
    parser.add_argument("--generators", action="store_true",
                        help="only the generator table: upcase bench and floor/loadgen.c "
                             "against the floor server")
    parser.add_argument("--start-runs", type=int, default=200,
                        help="hyperfine runs of each one-shot client a turn (0 to skip them)")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.idle + 1000)), hard))
    if not args.no_build:
        build()
    install_peers()
    if args.generators:
        generator_table(args.duration, args.repeat, args.compare)
        return
    if args.clients:
        if args.stream_gib > 0:
            client_table(args.stream_gib, args.repeat)
        if args.start_runs > 0:
            start_table(args.repeat, args.start_runs, args.compare)
        return
    if args.servers:
        wanted = args.servers.split(",")
        servers = [e for e in SERVERS + EXTRA_SERVERS if e[0] in wanted]
    else:
        servers = SERVERS
    if args.compare:
        other = os.path.abspath(args.compare)
        servers = servers + [(f"upcase at {args.compare}",
                              lambda kind, cpu: upcase_server([], cpu, other),
                              {"udp", "tcp", "reconnect"})]
    scenarios = [s for s in SCENARIOS if args.only.lower() in s[0].lower()]

    results, every_run = {}, {}
    for scenario in scenarios:
        runs = {entry[0]: [] for entry in servers}
        for turn in range(args.repeat):
            for entry in servers:
                runs[entry[0]].append(measure(entry, scenario, args.duration))
                print(f"measured {scenario[0]} on {entry[0]} ({turn + 1}/{args.repeat})",
                      file=sys.stderr)
        for name, reports in runs.items():
            results[(scenario[0], name)] = median(reports)
            every_run[(scenario[0], name)] = reports

    names = [entry[0] for entry in servers]
    print(f"| scenario | measure | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label, _flags, _kind, _pin in scenarios:
        floor_runs = every_run.get((label, "floor"))
        rows = [
            ("replies/s", lambda r: r.get("replies_per_second"), "{:,.0f}"),
            ("CPU µs/reply", lambda r: r.get("cpu_us_per_reply"), "{:.2f}"),
            ("p50 µs", lambda r: r["latency"]["p50_us"] if "latency" in r else None, "{:.1f}"),
            ("p99 µs", lambda r: r["latency"]["p99_us"] if "latency" in r else None, "{:.1f}"),
        ]
        for measure_name, get, fmt in rows:
            cells = []
            for name in names:
                r = results[(label, name)]
                if r is None:
                    cells.append("n/a")
                elif "error" in r:
                    cells.append("failed")
                else:
                    value = get(r)
                    cell = fmt.format(value) if value is not None else "-"
                    if not r.get("ok", True) or r.get("lost") or r.get("wrong"):
                        cell += f" (lost {r.get('lost')}, wrong {r.get('wrong')})"
                    if floor_runs:
                        cell += paired_ratio(every_run[(label, name)], floor_runs, get)
                    cells.append(cell)
            print(f"| {label} | {measure_name} | " + " | ".join(cells) + " |")
    if args.idle:
        print()
        idle_table(servers, names, args.idle)
    if not args.only and not args.servers:
        print()
        generator_table(args.duration, args.repeat)
    if args.stream_gib and not args.only and not args.servers:
        print()
        client_table(args.stream_gib, args.repeat)
    if args.start_runs and not args.only and not args.servers:
        print()
        start_table(args.repeat, args.start_runs, args.compare)


def idle_table(servers, names, idle):
    print(f"| server memory per idle TCP connection ({idle:,} held) | "
          + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    cells = []
    for entry in servers:
        kib = idle_memory(entry, idle)
        cells.append("n/a" if kib is None else f"{kib:.2f} KiB")
    print("| KiB per connection | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

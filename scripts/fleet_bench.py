#!/usr/bin/env python3
"""A fleet run in a test bed of hosts: three load generators, each in a network namespace of
its own, load one upcase server, then three upcase servers behind nginx (its stream module,
TCP), each generator writing its --hlog; `upcase bench merge` adds the logs up.

    sudo python3 scripts/fleet_bench.py [--duration 5] [--rate 0] [--conns 8] [--window 16]

The hosts are network namespaces on a bridge that lives in a namespace of its own, so their
addresses (10.89.0.0/24) are never seen outside; everything is removed at the end. With
--rate 0 (the default) each generator loads as fast as its windows allow (closed loop); with
--rate N the three share N requests a second (--share I/3, one --start-at). Prints each merged
report, and the ratio of the fleet behind nginx to the one server. Needs root, iproute2, nginx
with its stream module, and the release binary (built if missing).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPCASE = os.path.join(ROOT, "target/release/upcase")
STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
NET = "10.89.0"
TAG = f"upf-{os.getpid()}"


def run(*args, ns=None):
    prefix = ["ip", "netns", "exec", ns] if ns else []
    subprocess.run(prefix + list(args), check=True, capture_output=True)


def host(name, number):
    """A namespace with eth0 on the hub's bridge, holding 10.89.0.NUMBER."""
    ns = f"{TAG}-{name}"
    run("ip", "netns", "add", ns)
    run("ip", "-n", f"{TAG}-hub", "link", "add", f"v{name}", "type", "veth",
        "peer", "name", "eth0", "netns", ns)
    run("ip", "-n", f"{TAG}-hub", "link", "set", f"v{name}", "master", "br0", "up")
    run("ip", "-n", ns, "addr", "add", f"{NET}.{number}/24", "dev", "eth0")
    run("ip", "-n", ns, "link", "set", "eth0", "up")
    run("ip", "-n", ns, "link", "set", "lo", "up")
    return ns


def bed():
    run("ip", "netns", "add", f"{TAG}-hub")
    run("ip", "-n", f"{TAG}-hub", "link", "add", "br0", "type", "bridge")
    run("ip", "-n", f"{TAG}-hub", "link", "set", "br0", "up")
    servers = [host(f"s{n}", n) for n in (1, 2, 3)]
    balancer = host("b", 9)
    generators = [host(f"g{n}", 10 + n) for n in (1, 2, 3)]
    return servers, balancer, generators


def teardown():
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(TAG) and not name.endswith("-hub"):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
    subprocess.run(["ip", "netns", "del", f"{TAG}-hub"], capture_output=True)


def start_server(ns):
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, UPCASE, "server", "--tcp", "--port", "12000",
         "--max-connections-per-source", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    server.stdout.readline()
    return server


def start_nginx(ns, directory):
    upstream = "".join(f"server {NET}.{n}:12000; " for n in (1, 2, 3))
    config = os.path.join(directory, "nginx.conf")
    with open(config, "w") as out:
        out.write(f"daemon off;\nmaster_process off;\nworker_processes 1;\n"
                  f"error_log {directory}/error.log warn;\npid {directory}/nginx.pid;\n"
                  f"load_module {STREAM_MODULE};\nevents {{ worker_connections 1024; }}\n"
                  f"stream {{ upstream up {{ {upstream}}}\n"
                  f"  server {{ listen {NET}.9:12000; proxy_pass up; }} }}\n")
    nginx = subprocess.Popen(["ip", "netns", "exec", ns, "nginx", "-p", directory, "-e",
                              f"{directory}/error.log", "-c", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while not os.path.exists(os.path.join(directory, "nginx.pid")) and time.time() < deadline:
        time.sleep(0.05)
    return nginx


def fleet(generators, target, directory, name, args):
    """The three generators loading TARGET; the merged report's text."""
    running = []
    for i, ns in enumerate(generators, 1):
        log = os.path.join(directory, f"{name}-{i}.hlog")
        load = ["--conns", str(args.conns), "--window", str(args.window),
                "--duration", f"{args.duration}s", "--start-at", "+2s", "--hlog", log]
        if args.rate:
            load += ["--rate", str(args.rate), "--share", f"{i}/3"]
        running.append((subprocess.Popen(
            ["ip", "netns", "exec", ns, UPCASE, "bench", "--tcp", "--host", target,
             "--port", "12000", "--threads", "1"] + load,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), log))
    logs = []
    for process, log in running:
        process.wait()
        logs.append(log)
    merged = subprocess.run([UPCASE, "bench", "merge", "--json"] + logs,
                            capture_output=True, text=True)
    text = subprocess.run([UPCASE, "bench", "merge"] + logs, capture_output=True, text=True)
    return merged.stdout, text.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rate", type=int, default=0)
    parser.add_argument("--conns", type=int, default=8)
    parser.add_argument("--window", type=int, default=16)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("fleet_bench.py makes network namespaces: run it as root")
    if not os.path.exists(UPCASE):
        subprocess.run(["cargo", "build", "--release", "--bin", "upcase"], cwd=ROOT, check=True)
    try:
        servers, balancer, generators = bed()
        processes = [start_server(ns) for ns in servers]
        with tempfile.TemporaryDirectory() as directory:
            one_json, one = fleet(generators, f"{NET}.1", directory, "one", args)
            processes.append(start_nginx(balancer, directory))
            three_json, three = fleet(generators, f"{NET}.9", directory, "nginx", args)
        for process in processes:
            process.terminate()
            process.wait()
    finally:
        teardown()
    print("three generators, one server:\n" + one)
    print("three generators, three servers behind nginx:\n" + three)
    one_rate = json.loads(one_json)["replies_per_second"]
    three_rate = json.loads(three_json)["replies_per_second"]
    print(f"behind nginx / one server: {three_rate / one_rate:.2f}x the replies a second")


if __name__ == "__main__":
    main()

//! A test bed of hosts: network namespaces the test makes and removes, each host with one
//! interface on a bridge that lives in a namespace of its own (the hub), so that no address
//! of the bed is ever seen outside it. Addresses are 10.88.0.0/24 inside the bed only.
//!
//! The kernel here has nftables and tc's token bucket filter but no netem: loss is an
//! nftables rule that drops a random share of a host's packets (`numgen random`), and a slow
//! link is a `tbf` queue on a host's interface. Delay and reordering (netem's) stand nowhere.
//! Making namespaces takes root: `bash scripts/test.sh` runs the tests as root (CI does).

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use super::nginx::{Nginx, start_nginx_with};
use super::{Server, binary, spawn_server_logged};

/// The bed's network.
const NET: &str = "10.88.0";

/// One host of the bed: a namespace with `eth0` holding `addr`.
pub struct Host {
    pub namespace: String,
    pub addr: String,
}

impl Host {
    /// `program` to be run inside the host.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace])
            .arg(program);
        command
    }

    /// Runs `args` inside the host, which must succeed; its standard output.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self
            .command(args[0])
            .args(&args[1..])
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {}: {}",
            self.namespace,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `upcase server ARGS --port 12000` on this host, its log kept.
    pub fn upcase_server(&self, args: &[&str], transports: &[&str]) -> Server {
        let mut command = self.command(binary());
        command.args(["server", "--port", "12000"]).args(args);
        command.env("RUST_LOG", "info");
        spawn_server_logged(&mut command, transports)
    }

    /// nginx on this host, with `stream` as its stream block and its files in `dir`.
    pub fn nginx(&self, dir: &Path, stream: &str) -> Nginx {
        start_nginx_with(dir, stream, |nginx| self.command(nginx))
    }

    /// Drops `percent` of the UDP datagrams that arrive at this host for port 12000, at random.
    pub fn drop_udp(&self, percent: u32) {
        self.run(&["nft", "add", "table", "inet", "bed"]);
        self.run(&[
            "nft",
            "add chain inet bed input { type filter hook input priority 0; policy accept; }",
        ]);
        let rule = format!(
            "add rule inet bed input udp dport 12000 numgen random mod 100 < {percent} counter drop"
        );
        self.run(&["nft", &rule]);
    }

    /// Packets the `drop_udp` rule dropped so far.
    pub fn dropped(&self) -> u64 {
        let rules = self.run(&["nft", "list", "table", "inet", "bed"]);
        rules
            .split("counter packets ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Holds what this host sends to `rate` (tc's notation, like `1mbit`) with a token bucket.
    pub fn limit_rate(&self, rate: &str) {
        self.run(&[
            "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", rate, "burst", "16kb",
            "latency", "50ms",
        ]);
    }
}

/// Server hosts, generator hosts and the balancer host, on one bridge; removed when dropped.
pub struct Bed {
    hub: String,
    pub servers: Vec<Host>,
    pub generators: Vec<Host>,
    pub balancer: Host,
}

impl Bed {
    /// A bed named after `tag`: servers at 10.88.0.1…, the balancer at 10.88.0.9, generators
    /// at 10.88.0.11….
    pub fn new(tag: &str, servers: usize, generators: usize) -> Bed {
        let hub = format!("upb-{tag}-{}-hub", std::process::id());
        make_namespace(&hub);
        run(&["ip", "-n", &hub, "link", "add", "br0", "type", "bridge"]);
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        let mut bed = Bed {
            servers: Vec::new(),
            generators: Vec::new(),
            balancer: host(&hub, tag, "b", 9),
            hub,
        };
        for n in 1..=servers {
            bed.servers.push(host(&bed.hub, tag, &format!("s{n}"), n));
        }
        for n in 1..=generators {
            bed.generators
                .push(host(&bed.hub, tag, &format!("g{n}"), 10 + n));
        }
        bed
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let hosts = self.servers.iter().chain(&self.generators);
        for host in hosts.chain(std::iter::once(&self.balancer)) {
            let _ = Command::new("ip")
                .args(["netns", "del", &host.namespace])
                .output();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.hub])
            .output();
    }
}

/// Host number `n` of the bed, `role` in its name, its link on the hub's bridge.
fn host(hub: &str, tag: &str, role: &str, n: usize) -> Host {
    let namespace = format!("upb-{tag}-{}-{role}", std::process::id());
    make_namespace(&namespace);
    let link = format!("v{role}");
    run(&[
        "ip", "-n", hub, "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns",
        &namespace,
    ]);
    run(&["ip", "-n", hub, "link", "set", &link, "master", "br0", "up"]);
    let addr = format!("{NET}.{n}");
    run(&[
        "ip",
        "-n",
        &namespace,
        "addr",
        "add",
        &format!("{addr}/24"),
        "dev",
        "eth0",
    ]);
    run(&["ip", "-n", &namespace, "link", "set", "eth0", "up"]);
    run(&["ip", "-n", &namespace, "link", "set", "lo", "up"]);
    Host { namespace, addr }
}

/// Makes the namespace `name`, first removing one left by an earlier run of the same process
/// id; needs root, which the test command has.
fn make_namespace(name: &str) {
    let _ = Command::new("ip").args(["netns", "del", name]).output();
    let out = Command::new("ip").args(["netns", "add", name]).output();
    let made = out.as_ref().is_ok_and(|out| out.status.success());
    assert!(
        made,
        "cannot make the network namespace {name} ({out:?}): the test bed needs root and \
         iproute2; run the tests with `bash scripts/test.sh` as root"
    );
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

//! Where a datagram was sent: a server bound to every address answers only datagrams sent to
//! one of its host's own unicast addresses, each from that address. Run in network namespaces
//! the tests make (10.0.0.0/8 and fd00::/8 addresses inside them only), which takes root.

use std::process::Command;

use crate::util::{Server, binary, spawn_server_logged};

/// A network namespace with one end of a veth pair; deleted, with its link, when dropped.
struct Namespace {
    name: String,
}

impl Namespace {
    /// The namespace, made; only root can make one.
    fn new(tag: &str) -> Namespace {
        let name = format!("upcase-{tag}-{}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output();
        assert!(
            out.as_ref().is_ok_and(|out| out.status.success()),
            "cannot make the network namespace {name} ({out:?}): it needs root and iproute2; \
             run `bash scripts/test.sh` as root"
        );
        let namespace = Namespace { name };
        namespace.run(&["ip", "link", "set", "lo", "up"]);
        namespace
    }

    /// Runs `command` inside the namespace, which must succeed; its standard output.
    fn run(&self, command: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(command)
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{command:?} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// A server namespace (its interface holding 10.77.0.1/24 and 10.77.0.2/24, fd77::1/64 and
/// fd77::2/64) and a client namespace (10.77.0.3/24, fd77::3/64) joined by a veth pair.
fn two_hosts(tag: &str) -> (Namespace, Namespace) {
    let server = Namespace::new(&format!("{tag}-s"));
    let client = Namespace::new(&format!("{tag}-c"));
    server.run(&[
        "ip",
        "link",
        "add",
        "vs",
        "type",
        "veth",
        "peer",
        "name",
        "vc",
        "netns",
        &client.name,
    ]);
    for (namespace, link, last) in [
        (&server, "vs", ["1", "2"].as_slice()),
        (&client, "vc", &["3"]),
    ] {
        for n in last {
            namespace.run(&["ip", "addr", "add", &format!("10.77.0.{n}/24"), "dev", link]);
            namespace.run(&[
                "ip",
                "addr",
                "add",
                &format!("fd77::{n}/64"),
                "dev",
                link,
                "nodad",
            ]);
        }
        namespace.run(&["ip", "link", "set", link, "up"]);
    }
    (server, client)
}

/// upcase serving UDP on every address of `namespace`, port 12000, with `workers` workers.
fn upcase_in(namespace: &Namespace, workers: &str) -> Server {
    let mut command = namespace.command(binary().to_str().expect("a UTF-8 path"));
    command.args([
        "server",
        "--udp",
        "--port",
        "12000",
        "--workers",
        workers,
        "--metrics",
        "127.0.0.1:0",
    ]);
    command.env("RUST_LOG", "warn");
    spawn_server_logged(&mut command, &["udp"])
}

/// A client in `namespace` that sends one datagram to `to` (with SO_BROADCAST, out of the
/// veth) and prints how many replies come in a second, and from where.
/// `connected`: the client's socket takes replies only from `to`, as `nc -u` and most clients.
fn replies_to(namespace: &Namespace, to: &str, connected: bool) -> String {
    let script = r#"
import socket, sys, time
host, connected = sys.argv[1], sys.argv[2] == "1"
family = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"vc")
target = (host, 12000, 0, socket.if_nametoindex("vc")) if family == socket.AF_INET6 else (host, 12000)
if connected:
    s.connect(target)
    s.send(b"HELLO")
else:
    s.sendto(b"HELLO", target)
s.settimeout(0.2)
froms = []
end = time.time() + 1.0
while time.time() < end:
    try:
        data, peer = s.recvfrom(100)
        froms.append(peer[0])
    except socket.timeout:
        pass
print(len(froms), " ".join(sorted(set(froms))))
"#;
    namespace.run(&[
        "python3",
        "-c",
        script,
        to,
        if connected { "1" } else { "0" },
    ])
}

#[test]
#[ignore = "needs root to make network namespaces; `bash scripts/test.sh` runs it as root"]
fn a_reply_leaves_from_the_address_its_request_was_sent_to() {
    let (server_host, client_host) = two_hosts("src");
    let server = upcase_in(&server_host, "2");
    // A connected client of the second address takes only a reply from it; so does a client
    // of the first.
    for to in ["10.77.0.2", "10.77.0.1", "fd77::2", "fd77::1"] {
        assert_eq!(
            replies_to(&client_host, to, true).trim(),
            format!("1 {to}"),
            "{to}"
        );
    }
    drop(server);
}

#[test]
#[ignore = "needs root to make network namespaces; `bash scripts/test.sh` runs it as root"]
fn broadcasts_and_multicasts_draw_no_reply_from_any_worker() {
    let (server_host, client_host) = two_hosts("bcast");
    let server = upcase_in(&server_host, "4");
    // The subnet's broadcast, the limited broadcast, IPv6's all-nodes group: every worker's
    // socket hears them, and none answers.
    for to in ["10.77.0.255", "255.255.255.255", "ff02::1"] {
        assert_eq!(replies_to(&client_host, to, false).trim(), "0", "{to}");
    }
    // A unicast datagram is still answered once.
    assert_eq!(
        replies_to(&client_host, "10.77.0.1", false).trim(),
        "1 10.77.0.1"
    );
    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    for line in [
        "refused datagram from 10.77.0.3:",
        "sent to 10.77.0.255, a broadcast or multicast address, not to this host's own",
        "sent to ff02::1, a broadcast or multicast address",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
}

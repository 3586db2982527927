//! `--allow` and `--deny` in every spelling, over TCP and UDP, on a dual-stack socket (`::`)
//! and an IPv4 one (`0.0.0.0`), given as flags and in the config file: IPv4-mapped rules mean
//! the IPv4 networks they map.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::util::{Server, start_server};

/// How long a refused datagram is waited for, to show that no reply comes.
const NO_REPLY: Duration = Duration::from_millis(300);

/// Whether a TCP client from the address family of `server` is answered.
fn tcp_served(server: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(server) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(b"hi").is_err() || stream.shutdown(Shutdown::Write).is_err() {
        return false;
    }
    let mut reply = Vec::new();
    // A refused connection is closed at once: no reply, or a reset.
    stream.read_to_end(&mut reply).is_ok() && reply == b"HI"
}

/// Whether a datagram from `from` to `server` is answered. An answer is waited for a few
/// times over, in case one is lost; a refusal shows as no answer within [`NO_REPLY`] each time.
fn udp_served(server: SocketAddr, from: &str) -> bool {
    let socket = UdpSocket::bind(from).expect("bind");
    socket.set_read_timeout(Some(NO_REPLY)).expect("timeout");
    let mut buf = [0; 16];
    (0..2).any(|_| {
        socket.send_to(b"hi", server).expect("send");
        matches!(socket.recv(&mut buf), Ok(2)) && &buf[..2] == b"HI"
    })
}

/// A server bound to `bind` with one rule, `--allow` or `--deny` (`key`), given on the
/// command line or in a config file.
fn with_rule(bind: &str, key: &str, rule: &str, in_file: bool, dir: &std::path::Path) -> Server {
    let base = ["--bind", bind, "--workers", "1"];
    if in_file {
        let path = dir.join(format!(
            "{}-{key}-{}.toml",
            bind.replace(':', "v6"),
            rule.replace([':', '/', '.'], "_")
        ));
        std::fs::write(&path, format!("{key} = [\"{rule}\"]\n")).expect("write config");
        let path = path.to_str().expect("utf-8 path").to_owned();
        start_server(&[&base[..], &["--config", &path]].concat())
    } else {
        start_server(&[&base[..], &[&format!("--{key}"), rule]].concat())
    }
}

/// One case of [`every_spelling_of_a_rule_means_what_it_says_on_both_stacks`]: where the server
/// binds, `allow` or `deny`, the rule, whether it is in the file, whether it names the IPv4
/// client.
type Case = (&'static str, &'static str, &'static str, bool, bool);

/// Every bind × key × flag-or-file × rule.
fn every_case() -> Vec<Case> {
    // Each rule names the IPv4 loopback client, or the IPv6 one.
    let ipv4_rules = [
        "127.0.0.1",
        "127.0.0.0/8",
        "::ffff:127.0.0.1",
        "::ffff:127.0.0.1/128",
        "::ffff:127.0.0.0/104",
    ];
    let ipv6_rules = ["::1", "::1/128"];
    let mut cases = Vec::new();
    for bind in ["::", "0.0.0.0"] {
        for key in ["allow", "deny"] {
            for in_file in [false, true] {
                for rule in ipv4_rules {
                    cases.push((bind, key, rule, in_file, true));
                }
                if bind == "::" {
                    for rule in ipv6_rules {
                        cases.push((bind, key, rule, in_file, false));
                    }
                }
            }
        }
    }
    cases
}

/// Runs one case: what was served that should not have been, or refused that should have.
fn wrongly_served(case: Case, dir: &std::path::Path) -> Vec<String> {
    let (bind, key, rule, in_file, names_ipv4) = case;
    let server = with_rule(bind, key, rule, in_file, dir);
    let port = server.port();
    let allow = key == "allow";
    // The client the rule names is served under --allow, refused under --deny; the other
    // client the opposite.
    let mut wrong = Vec::new();
    let v4: SocketAddr = ([127, 0, 0, 1], port).into();
    let v6: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, port).into();
    let mut check = |who: &str, served: bool, named: bool| {
        if served != (named == allow) {
            wrong.push(format!(
                "--bind {bind} {}--{key} {rule}: {who} {}",
                if in_file { "(config) " } else { "" },
                if served { "served" } else { "refused" }
            ));
        }
    };
    check("tcp from 127.0.0.1", tcp_served(v4), names_ipv4);
    check(
        "udp from 127.0.0.1",
        udp_served(v4, "127.0.0.1:0"),
        names_ipv4,
    );
    if bind == "::" {
        check("tcp from ::1", tcp_served(v6), !names_ipv4);
        check("udp from ::1", udp_served(v6, "[::1]:0"), !names_ipv4);
    }
    wrong
}

#[test]
fn every_spelling_of_a_rule_means_what_it_says_on_both_stacks() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let running: Vec<_> = every_case()
            .into_iter()
            .map(|case| {
                let dir = dir.path();
                scope.spawn(move || wrongly_served(case, dir))
            })
            .collect();
        running
            .into_iter()
            .flat_map(|case| case.join().expect("case thread"))
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_mapped_rule_wider_than_the_mapped_range_is_refused_with_how_to_write_it() {
    crate::util::upcase()
        .args(["server", "--port", "0", "--deny", "::ffff:0:0/80"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("0.0.0.0/0"));
}

//! `upcase client` as users run it.

use std::io::Write;
use std::net::UdpSocket;
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::util::{binary, closed_port, start_server, textbook, upcase};

#[test]
fn message_words_are_sent_as_one_message_over_tcp_and_udp() {
    let server = start_server(&[]);
    let port = server.port().to_string();
    for host in ["127.0.0.1", "::1", "[::1]", "localhost"] {
        for transport in ["--tcp", "--udp"] {
            upcase()
                .args([
                    "client", transport, "--host", host, "--port", &port, "hello", "big", "world",
                ])
                .assert()
                .success()
                .stdout("HELLO BIG WORLD\n")
                .stderr("");
        }
    }
}

/// `localhost` is both loopbacks, whatever the hosts file says: a server on either alone is
/// reached, over either transport, and for spellings the resolver would not know.
#[test]
fn localhost_reaches_a_server_on_either_loopback() {
    for bind in ["127.0.0.1", "::1"] {
        let server = start_server(&["--bind", bind]);
        let port = server.port().to_string();
        for host in ["localhost", "LOCALHOST.", "upcase.localhost"] {
            for transport in ["--tcp", "--udp"] {
                upcase()
                    .args(["client", transport, "--host", host, "--port", &port, "hi"])
                    .assert()
                    .success()
                    .stdout("HI\n")
                    .stderr("");
            }
        }
    }
}

#[test]
fn refused_at_localhost_names_both_loopbacks() {
    let port = closed_port().to_string();
    upcase()
        .args(["client", "--port", &port, "hi"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(format!("127.0.0.1:{port}")))
        .stderr(predicate::str::contains(format!("[::1]:{port}")));
}

#[test]
fn tcp_is_the_default() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    upcase()
        .args([
            "client",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
            "straße",
        ])
        .assert()
        .success()
        .stdout("STRASSE\n");
}

#[test]
fn line_transform_replies_are_printed_as_they_are() {
    let server = start_server(&["--bind", "127.0.0.1", "--transform", "count=s"]);
    let port = server.port().to_string();
    for transport in ["--tcp", "--udp"] {
        upcase()
            .args([
                "client",
                transport,
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "mississippi",
            ])
            .assert()
            .success()
            .stdout("4\n");
    }
}

#[test]
fn a_terminal_gets_the_textbook_prompt_for_each_line() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let port = server.port().to_string();
    for transport in ["--tcp", "--udp"] {
        let output = Command::new("python3")
            .arg(textbook("pty_run.py"))
            .arg(binary())
            .args(["client", transport, "--host", "127.0.0.1", "--port", &port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all("hello world\nstraße\n".as_bytes())?;
                child.wait_with_output()
            })
            .expect("run the client on a terminal");
        assert!(output.status.success(), "{output:?}");
        // A terminal shows typed lines (echo) and turns each LF into CR LF.
        let shown = String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n");
        assert_eq!(
            shown,
            "Input lowercase sentence:hello world\nHELLO WORLD\n\
             Input lowercase sentence:straße\nSTRASSE\n\
             Input lowercase sentence:\n",
            "{transport}"
        );
    }
}

#[test]
fn refused_tcp_exits_1_naming_the_address() {
    let port = closed_port().to_string();
    upcase()
        .args(["client", "--host", "127.0.0.1", "--port", &port, "hi"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "upcase: cannot connect over tcp to 127.0.0.1:{port} (connection refused); is the server running, with TCP on, at that port?\n"
        ));
}

#[test]
fn unreachable_udp_port_exits_1() {
    let port = closed_port().to_string();
    upcase()
        .args(["client", "--udp", "--host", "::1", "--port", &port, "hi"])
        .assert()
        .code(1)
        .stderr(format!(
            "upcase: nothing listens on udp [::1]:{port} (port unreachable); is the server running, with UDP on, at that port?\n"
        ));
}

#[test]
fn silent_udp_server_is_retried_then_reported() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port().to_string();
    upcase()
        .args(["client", "--udp", "--host", "127.0.0.1", "--port", &port])
        .args(["--timeout", "100ms", "--retries", "2", "anyone there"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with(format!(
            "upcase: no reply from udp 127.0.0.1:{port} after 3 tries, waiting 100ms each; is the server running there"
        )))
        .stderr(predicate::str::contains("use --tcp"));
    silent.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0; 64];
    let mut tries = 0;
    while silent.recv_from(&mut buf).is_ok() {
        tries += 1;
    }
    assert_eq!(tries, 3, "one try and two retries");
}

#[test]
fn oversized_udp_message_exits_2_suggesting_tcp() {
    let server = start_server(&["--udp", "--bind", "127.0.0.1"]);
    let message = "a".repeat(70_000);
    upcase()
        .args(["client", "--udp", "--host", "127.0.0.1", "--port", &server.port().to_string(), &message])
        .assert()
        .code(2)
        .stdout("")
        .stderr("upcase: message of 70000 bytes does not fit in a UDP datagram (65507 at most); use --tcp\n");
    let mut line = "a".repeat(70_000);
    line.push('\n');
    upcase()
        .args(["client", "--udp", "--host", "127.0.0.1", "--port", &server.port().to_string()])
        .write_stdin(format!("ok\n{line}"))
        .assert()
        .code(2)
        .stdout("OK\n")
        .stderr("upcase: message of 70000 bytes does not fit in a UDP datagram (65507 at most); use --tcp\n");
}

#[test]
fn largest_udp_message_fits() {
    let server = start_server(&["--udp", "--bind", "127.0.0.1"]);
    let message = "a".repeat(65_507);
    upcase()
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
            &message,
        ])
        .assert()
        .success()
        .stdout(format!("{}\n", "A".repeat(65_507)));
}

#[test]
fn usage_errors_exit_2_in_one_line() {
    for (args, expected) in [
        (
            &["client", "--udp", "--tcp", "x"][..],
            "upcase: the argument '--udp' cannot be used with '--tcp'; see 'upcase client --help'\n",
        ),
        (
            &["client", "--timeout", "soon", "x"],
            "upcase: invalid value 'soon' for '--timeout <DURATION>': expected number at 0; write a number and a unit, like 1s or 250ms; see 'upcase client --help'\n",
        ),
        (
            &["client", "--timeout", "0s", "x"],
            "upcase: invalid value '0s' for '--timeout <DURATION>': must be more than zero; see 'upcase client --help'\n",
        ),
        (
            &["client", "--port", "0", "x"],
            "upcase: invalid value '0' for '--port <N>': 0 is not in 1..=65535; see 'upcase client --help'\n",
        ),
    ] {
        upcase()
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(expected);
    }
}

#[test]
fn unknown_host_exits_1() {
    upcase()
        .args(["client", "--host", "no-such-host.invalid", "x"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "upcase: cannot resolve host `no-such-host.invalid`: ",
        ))
        .stderr(predicate::str::ends_with(
            "; check the name given to --host\n",
        ));
}

//! QUIC under the server's other limits: `--max-connections` and the per-source limit refuse
//! a connection past them and serve again once one ends; `--idle-timeout` ends a connection
//! that says nothing, counted as TCP's are; a handshake left half done ends at its deadline,
//! counted as a timeout, while others are served.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

use predicates::prelude::*;

use crate::quic::{client, client_args, quic_server, setup};
use crate::util::{metric, metrics_addr, read_until, wait_with_patience};

/// `upcase client --quic` in pipe mode to `port`, its connection made and one line answered,
/// its input kept open: a connection held.
fn holder(port: u16, ca: &std::path::Path) -> (Child, ChildStdin) {
    let mut holder = Command::new(crate::util::binary())
        .args(client_args(port, ca))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("a client that holds its connection");
    let mut stdin = holder.stdin.take().expect("stdin");
    stdin.write_all(b"held\n").expect("a line");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its reply");
    assert_eq!(line, "HELD\n");
    (holder, stdin)
}

/// With one connection allowed on `port`: a second is refused while a pipe holds the first,
/// and served once it ends.
fn one_at_a_time(port: u16, ca: &std::path::Path) {
    let (mut held, stdin) = holder(port, ca);
    client(port, ca)
        .arg("second")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refused the connection"));
    drop(stdin);
    assert!(wait_with_patience(&mut held).success());
    let served = read_until(|| client(port, ca).arg("now").ok(), Result::is_ok);
    assert_eq!(
        served.expect("served once the first is gone").stdout,
        b"NOW\n"
    );
}

#[test]
fn max_connections_refuses_the_one_past_it_and_serves_again_after() {
    let (_pki, ca, pair) = setup();
    let server = quic_server(&pair, &["--max-connections", "1"]);
    one_at_a_time(server.quic().port(), &ca);
}

#[test]
fn the_per_source_limit_counts_quic_connections() {
    let (_pki, ca, pair) = setup();
    let server = quic_server(&pair, &["--max-connections-per-source", "1"]);
    one_at_a_time(server.quic().port(), &ca);
}

#[test]
fn a_connection_that_says_nothing_ends_at_the_idle_timeout() {
    let (_pki, ca, pair) = setup();
    let mut server = quic_server(&pair, &["--idle-timeout", "1s"]);
    let metrics = metrics_addr(&mut server);
    let (mut held, _stdin) = holder(server.quic().port(), &ca);
    // The input stays open and says nothing more: the server ends the exchange, and the
    // client's pipe ends with it, its replies whole, as over TCP (where it did already).
    assert!(wait_with_patience(&mut held).success());
    let idle = read_until(
        || metric(metrics, "upcase_dropped_total{reason=\"idle_timeout\"}"),
        |&n| n > 0,
    );
    assert_eq!(idle, 1);
}

#[test]
#[ignore = "needs Python's aioquic in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn a_handshake_left_half_done_ends_at_its_deadline_counted_as_a_timeout() {
    let (_pki, ca, pair) = setup();
    let mut server = quic_server(&pair, &["--idle-timeout", "2s"]);
    let metrics = metrics_addr(&mut server);
    let port = server.quic().port();
    let stall = Command::new(crate::util::pyenv::python())
        .arg(crate::util::pyenv::support("quic_stall.py"))
        .args(["127.0.0.1", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the stalling client");
    let mut stall = crate::util::Killed(stall);
    let mut line = String::new();
    BufReader::new(stall.0.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("its line");
    assert_eq!(line, "stalled\n");
    // A client that finishes its handshake is served meanwhile.
    client(port, &ca).arg("meanwhile").assert().success();
    let failures = "upcase_tls_handshake_failures_total{reason=\"timeout\"}";
    assert_eq!(read_until(|| metric(metrics, failures), |&n| n > 0), 1);
}

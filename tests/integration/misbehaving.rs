//! `upcase client` against small servers that misbehave, written here: one that sends without
//! end, one that sends half a reply and goes quiet, one that closes without replying. The
//! client keeps bounded memory, says when a reply ended in silence, and counts no empty reply
//! as an answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use predicates::prelude::*;

use crate::util::{thread_server, upcase};

/// Reads the request to its end, as every server here does first.
fn read_request(stream: &mut TcpStream) {
    let mut request = Vec::new();
    let _ = stream.read_to_end(&mut request);
}

/// Sends without end, until the client goes away.
fn endless(mut stream: TcpStream) {
    read_request(&mut stream);
    let chunk = vec![b'A'; 64 * 1024];
    while stream.write_all(&chunk).is_ok() {}
}

/// Sends the first half of the upper-cased request, then nothing, and holds the connection.
fn half_then_quiet(mut stream: TcpStream) {
    let mut request = Vec::new();
    let _ = stream.read_to_end(&mut request);
    let half = request.len() / 2;
    let _ = stream.write_all(&request[..half].to_ascii_uppercase());
    // Holds the connection open and quiet for as long as the test runs: never closed, so the
    // client's only way out is its own timeout.
    std::mem::forget(stream);
}

/// Reads the request and closes without a byte of reply.
fn closes_without_reply(mut stream: TcpStream) {
    read_request(&mut stream);
}

fn client(port: &str, args: &[&str]) -> assert_cmd::Command {
    let mut command = upcase();
    command.args(["client", "--host", "127.0.0.1", "--port", port]);
    command.args(args);
    command
}

#[test]
fn a_server_that_sends_without_end_is_cut_off_at_max_reply_in_every_mode() {
    let port = thread_server(endless);
    let cut_off = || {
        predicate::str::contains("went past").and(predicate::str::contains(
            "bytes, the most kept of one reply",
        ))
    };
    for args in [
        &["--max-reply", "1000000", "hello"][..],
        &["--max-reply", "1000000", "--json", "hello"],
        // The default bound, too.
        &["hello"],
    ] {
        client(&port, args)
            .timeout(Duration::from_secs(30))
            .assert()
            .code(1)
            .stderr(cut_off());
    }
    // A probe's failure is its line of the report.
    client(&port, &["--max-reply", "1000000", "--count", "1", "hello"])
        .timeout(Duration::from_secs(30))
        .assert()
        .code(1)
        .stdout(cut_off());
}

#[test]
fn a_reply_that_ends_in_silence_is_said_so_and_timed_at_its_last_byte() {
    let port = thread_server(half_then_quiet);
    client(&port, &["--timeout", "300ms", "hello", "world"])
        .assert()
        .success()
        .stdout("HELLO\n")
        .stderr(predicate::str::contains(
            "sent 5 bytes, then nothing more for --timeout and did not close; the reply may be cut short",
        ));
    let output = client(&port, &["--timeout", "2s", "--json", "hello", "world"])
        .output()
        .expect("run");
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["ended"], "quiet", "{report}");
    assert_eq!(report["reply"], "HELLO", "{report}");
    let rtt = report["rtt_ms"].as_f64().expect("rtt_ms");
    assert!(
        rtt < 2000.0,
        "the round trip ends with the last byte, not the quiet spell after it: {report}"
    );
}

#[test]
fn a_server_that_closes_without_replying_gives_no_answer() {
    let port = thread_server(closes_without_reply);
    client(&port, &["hello"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "closed the connection without replying",
        ));
    client(&port, &["--count", "2", "--interval", "10ms", "hello"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("seq=1: closed without a reply"))
        .stdout(predicate::str::contains(
            "2 probes sent, 0 received, 100% loss",
        ));
    // An empty message may well have an empty reply.
    client(&port, &[""]).assert().success().stdout("\n");
}

#[test]
fn a_host_with_a_port_in_it_points_at_the_port_flag() {
    for (host, advice) in [
        ("localhost:12000", "write --host localhost --port 12000"),
        ("127.0.0.1:9", "write --host 127.0.0.1 --port 9"),
        ("[::1]:12000", "write --host ::1 --port 12000"),
    ] {
        for command in ["client", "bench"] {
            upcase()
                .args([command, "--host", host])
                .assert()
                .code(2)
                .stderr(predicate::str::contains(advice));
        }
    }
}

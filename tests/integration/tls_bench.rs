//! `upcase bench --tls`: a window of requests on persistent TLS connections, a full handshake
//! per request, resumed handshakes with `--resume`; socat's TLS server as a peer; and what
//! the bench refuses before it loads anything.

use std::path::Path;

use predicates::prelude::*;

use crate::util::pki::{Ca, Pki, Validity, arg, socat_tls_server};
use crate::util::{Server, read_until, start_server, upcase};

/// `upcase bench --tls` to `port` on localhost, trusting `ca`.
fn bench(port: u16, ca: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut bench = upcase();
    bench
        .args(["bench", "--tls", "--host", "localhost", "--cacert", arg(ca)])
        .args(["--port", &port.to_string()])
        .args(args);
    bench
}

/// An upcase TLS server for localhost, and the CA that signed its certificate.
fn tls_server() -> (Pki, Ca, Server) {
    let pki = Pki::new();
    let ca = pki.ca("bench");
    let pair = pki.server(&ca, "server", &["localhost"], Validity::Now);
    let server = start_server(&["--tls", "--cert", arg(&pair.cert), "--key", arg(&pair.key)]);
    (pki, ca, server)
}

fn json_report(port: u16, ca: &Path, args: &[&str]) -> serde_json::Value {
    let output = bench(port, ca, &[args, &["--json"]].concat())
        .output()
        .expect("bench runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn a_tls_server_is_loaded_with_a_window_of_small_and_large_requests() {
    let (_pki, ca, server) = tls_server();
    let (port, ca) = (server.tls().port(), ca.cert);

    let windowed = json_report(
        port,
        &ca,
        &["--conns", "3", "--window", "8", "--requests", "3000"],
    );
    assert_eq!(windowed["transport"], "tls");
    assert_eq!(
        (windowed["replies"].as_u64(), windowed["wrong"].as_u64()),
        (Some(3000), Some(0))
    );
    assert!(windowed["handshakes"].is_null(), "{windowed}");
    // Requests larger than the sockets' buffers: records wait for room, none is lost.
    let large = json_report(
        port,
        &ca,
        &["--size", "1048576", "--window", "4", "--requests", "48"],
    );
    assert_eq!(
        (large["replies"].as_u64(), large["wrong"].as_u64()),
        (Some(48), Some(0))
    );
}

#[test]
fn a_connection_per_request_counts_full_and_resumed_handshakes() {
    let (_pki, ca, server) = tls_server();
    let (port, ca) = (server.tls().port(), ca.cert);

    let full = json_report(
        port,
        &ca,
        &["--reconnect", "--threads", "1", "--requests", "40"],
    );
    assert_eq!(full["replies"], 40);
    let shakes = &full["handshakes"];
    assert_eq!(
        (shakes["full"].as_u64(), shakes["resumed"].as_u64()),
        (Some(40), Some(0))
    );
    assert_eq!(shakes["resume"], false);

    let resumed = json_report(
        port,
        &ca,
        &[
            "--reconnect",
            "--resume",
            "--threads",
            "1",
            "--requests",
            "40",
        ],
    );
    assert_eq!(resumed["replies"], 40);
    let shakes = &resumed["handshakes"];
    assert_eq!(shakes["resume"], true);
    // The first may be full; every later one resumes a ticket the one before it was given.
    assert!(shakes["resumed"].as_u64() >= Some(39), "{resumed}");
    assert_eq!(
        shakes["full"]
            .as_u64()
            .zip(shakes["resumed"].as_u64())
            .map(|(f, r)| f + r),
        Some(40)
    );

    bench(port, &ca, &["--reconnect", "--resume", "--requests", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "a connection per request, resuming TLS sessions",
        ))
        .stdout(predicate::str::contains("handshakes: "));
    bench(port, &ca, &["--reconnect", "--requests", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains("each a full TLS handshake"));
}

#[test]
#[ignore = "needs socat; `bash scripts/test.sh` installs it and runs it"]
fn socat_as_a_tls_server_is_measured_a_connection_per_request() {
    let pki = Pki::new();
    let ca = pki.ca("peers");
    let pair = pki.server(&ca, "server", &["localhost", "127.0.0.1"], Validity::Now);
    let (_socat, port) = socat_tls_server(&pair);
    let args = ["--reconnect", "--requests", "20"];
    let up = read_until(
        || bench(port, &ca.cert, &[&args[..], &["--json"]].concat()).output(),
        |output| output.as_ref().is_ok_and(|output| output.status.success()),
    )
    .expect("bench runs");
    let report: serde_json::Value = serde_json::from_slice(&up.stdout).expect("JSON");
    assert_eq!(
        (report["replies"].as_u64(), report["wrong"].as_u64()),
        (Some(20), Some(0))
    );
    assert_eq!(report["handshakes"]["full"], 20);
}

#[test]
fn what_cannot_be_trusted_or_reached_is_refused_before_the_load() {
    let pki = Pki::new();
    let ca = pki.ca("ours");
    let other = pki.ca("theirs");
    let pair = pki.server(&ca, "server", &["localhost"], Validity::Now);
    let server = start_server(&[
        "--tcp",
        "--tls",
        "--cert",
        arg(&pair.cert),
        "--key",
        arg(&pair.key),
    ]);
    let tls = server.tls().port();
    bench(server.tcp().port(), &ca.cert, &["--requests", "3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not speak TLS"));
    bench(tls, &other.cert, &["--requests", "3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("certificate").and(predicate::str::contains("--cacert")));
    bench(tls, &pki.path("missing.pem"), &["--requests", "3"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing.pem"));
    for (args, says) in [
        (&["--resume"][..], "--reconnect"),
        (&["--udp"][..], "--udp"),
        (&["--tcp"][..], "--tcp"),
    ] {
        bench(tls, &ca.cert, &[args, &["--requests", "3"]].concat())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    upcase()
        .args(["bench", "--insecure", "--requests", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tls"));
    let insecure = upcase()
        .args([
            "bench",
            "--tls",
            "--insecure",
            "--host",
            "localhost",
            "--requests",
            "3",
        ])
        .args(["--port", &tls.to_string()])
        .assert()
        .success()
        .stderr(predicate::str::contains("not checked"));
    drop(insecure);
}

//! `--quic` as a newcomer and an independent stack try it: upcase's server and client in every
//! mode, aioquic (an independent QUIC stack, from PyPI) as a client opening many streams on one
//! connection and as a server, and what is refused: another ALPN, an untrusted certificate,
//! nothing serving, missing files.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::util::pki::{Pair, Pki, Validity, arg};
use crate::util::pyenv::{python, support};
use crate::util::{Killed, Server, metric, metrics_addr, start_server, upcase};

pub fn setup() -> (Pki, PathBuf, Pair) {
    let pki = Pki::new();
    let ca = pki.ca("quic");
    let pair = pki.server(&ca, "server", &["localhost", "127.0.0.1"], Validity::Now);
    let ca_cert = ca.cert.clone();
    (pki, ca_cert, pair)
}

/// `upcase server --quic` with `pair`, metrics on, and `more`.
pub fn quic_server(pair: &Pair, more: &[&str]) -> Server {
    let mut args = vec!["--quic", "--cert", arg(&pair.cert), "--key", arg(&pair.key)];
    args.extend_from_slice(&["--metrics", "127.0.0.1:0"]);
    args.extend_from_slice(more);
    start_server(&args)
}

/// The arguments of `upcase client --quic` to `port` on localhost, trusting `ca`.
pub fn client_args(port: u16, ca: &Path) -> Vec<String> {
    let fixed = [
        "client",
        "--quic",
        "--host",
        "localhost",
        "--cacert",
        arg(ca),
        "--port",
    ];
    let mut args: Vec<String> = fixed.iter().map(|s| (*s).to_owned()).collect();
    args.push(port.to_string());
    args
}

/// `upcase client --quic` to `port` on localhost, trusting `ca`.
pub fn client(port: u16, ca: &Path) -> assert_cmd::Command {
    let mut client = upcase();
    client.args(client_args(port, ca));
    client
}

#[test]
fn a_newcomer_serves_and_talks_quic_in_every_mode() {
    let (_pki, ca, pair) = setup();
    let mut server = quic_server(&pair, &[]);
    let metrics = metrics_addr(&mut server);
    let port = server.quic().port();
    client(port, &ca)
        .args(["hello", "quic"])
        .assert()
        .success()
        .stdout("HELLO QUIC\n");
    let input = "line\n".repeat(20_000);
    client(port, &ca)
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(input.to_uppercase());
    let probes = client(port, &ca)
        .args(["--count", "2", "--interval", "100ms"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&probes.get_output().stdout).into_owned();
    assert_eq!(text.matches(" handshake=").count(), 2, "{text}");
    let json = client(port, &ca).args(["--json", "hi"]).assert().success();
    let report: serde_json::Value =
        serde_json::from_slice(&json.get_output().stdout).expect("JSON");
    assert_eq!(
        (&report["transport"], &report["alpn"], &report["reply"]),
        (&"quic".into(), &"upcase".into(), &"HI".into())
    );
    assert_eq!(
        (&report["quic_version"], &report["tls_version"]),
        (&1.into(), &"TLSv1.3".into())
    );
    // One exchange, one pipe, two probes, one report: five streams.
    let served = crate::util::read_until(
        || metric(metrics, "upcase_requests_total{transport=\"quic\"}"),
        |&n| n >= 5,
    );
    assert_eq!(served, 5);
}

/// aioquic's client: `count` streams at once on one connection to `port`, offering `alpn`.
fn aioquic_client(port: u16, ca: &Path, count: usize, alpn: &str) -> std::process::Output {
    Command::new(python())
        .arg(support("quic_client.py"))
        .args([
            "127.0.0.1",
            &port.to_string(),
            arg(ca),
            &count.to_string(),
            alpn,
        ])
        .output()
        .expect("run the aioquic client")
}

#[test]
#[ignore = "needs Python's aioquic in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn aioquic_opens_many_streams_on_one_connection_each_answered_exactly() {
    let (_pki, ca, pair) = setup();
    let mut server = quic_server(&pair, &[]);
    let metrics = metrics_addr(&mut server);
    let out = aioquic_client(server.quic().port(), &ca, 64, "upcase");
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["alpn"], "upcase");
    let replies = report["replies"].as_array().expect("replies");
    assert_eq!(replies.len(), 64);
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(reply.as_str(), Some(format!("STREAM {i} STRASSE").as_str()));
    }
    // Another application protocol is refused at the handshake, counted by reason.
    let refused = aioquic_client(server.quic().port(), &ca, 1, "h3");
    assert!(!refused.status.success(), "{refused:?}");
    let failures = "upcase_tls_handshake_failures_total{reason=\"no_common_protocol\"}";
    assert_eq!(
        crate::util::read_until(|| metric(metrics, failures), |&n| n > 0),
        1
    );
}

#[test]
#[ignore = "needs Python's aioquic in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn the_client_talks_to_an_aioquic_server() {
    let (_pki, ca, pair) = setup();
    let port = crate::util::closed_port();
    let mut server = Command::new(python())
        .arg(support("quic_server.py"))
        .args([&port.to_string(), arg(&pair.cert), arg(&pair.key)])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the aioquic server");
    let stdout = server.stdout.take().expect("stdout");
    let _server = Killed(server);
    let mut ready = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut ready)
        .expect("its ready line");
    assert_eq!(ready, "ready\n");
    client(port, &ca)
        .args(["hello", "aioquic"])
        .assert()
        .success()
        .stdout("HELLO AIOQUIC\n");
    client(port, &ca)
        .write_stdin("one\ntwo\n")
        .assert()
        .success()
        .stdout("ONE\nTWO\n");
}

#[test]
fn what_cannot_be_trusted_or_reached_is_one_line_and_exit_1_or_2() {
    let (pki, _ca, pair) = setup();
    let other = pki.ca("other");
    let server = quic_server(&pair, &[]);
    client(server.quic().port(), &other.cert)
        .arg("hi")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("certificate").and(predicate::str::contains("--cacert")));
    client(crate::util::closed_port(), &other.cert)
        .arg("hi")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no reply from quic"));
    upcase()
        .args(["server", "--quic", "--quic-port", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--quic").and(predicate::str::contains("--cert")));
    upcase()
        .args(["client", "--quic", "--tls", "hi"])
        .assert()
        .code(2);
}

fn bench_json(port: u16, ca: &Path, args: &[&str]) -> serde_json::Value {
    let output = upcase()
        .args([
            "bench",
            "--quic",
            "--host",
            "localhost",
            "--cacert",
            arg(ca),
            "--json",
        ])
        .args(["--port", &port.to_string()])
        .args(args)
        .output()
        .expect("bench runs");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn the_load_generator_keeps_a_window_of_streams_or_a_connection_per_request() {
    let (_pki, ca, pair) = setup();
    let server = quic_server(&pair, &["--max-connections-per-source", "0"]);
    let port = server.quic().port();
    let windowed = bench_json(
        port,
        &ca,
        &["--conns", "2", "--window", "16", "--requests", "2000"],
    );
    assert_eq!(windowed["transport"], "quic");
    assert_eq!(
        (windowed["replies"].as_u64(), windowed["wrong"].as_u64()),
        (Some(2000), Some(0))
    );
    let large = bench_json(
        port,
        &ca,
        &["--size", "1048576", "--window", "4", "--requests", "16"],
    );
    assert_eq!(
        (large["replies"].as_u64(), large["lost"].as_u64()),
        (Some(16), Some(0))
    );
    let each = bench_json(
        port,
        &ca,
        &["--reconnect", "--threads", "1", "--requests", "20"],
    );
    assert_eq!(each["replies"], 20);
    assert_eq!(each["handshakes"]["full"], 20);
}

#[test]
fn the_access_lists_apply_to_quic_connections() {
    let (_pki, ca, pair) = setup();
    let denied = quic_server(&pair, &["--deny", "127.0.0.0/8", "--deny", "::1"]);
    client(denied.quic().port(), &ca)
        .arg("hi")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refused the connection"));
}

#[test]
fn probes_reuse_one_connection_when_asked() {
    let (_pki, ca, pair) = setup();
    let mut server = quic_server(&pair, &[]);
    let metrics = metrics_addr(&mut server);
    let port = server.quic().port();
    let probes = client(port, &ca)
        .args(["--count", "3", "--interval", "100ms", "--reuse"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&probes.get_output().stdout).into_owned();
    // Only the first probe made a handshake; the others were streams of its connection.
    assert_eq!(text.matches(" handshake=").count(), 1, "{text}");
    assert!(text.contains("3 received"), "{text}");
    let streams = crate::util::read_until(
        || metric(metrics, "upcase_requests_total{transport=\"quic\"}"),
        |&n| n >= 3,
    );
    assert_eq!(streams, 3);
    upcase()
        .args(["client", "--reuse", "hi"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--count"));
}

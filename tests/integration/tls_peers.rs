//! `--tls` with other tools, both ways (openssl, socat, ncat, Python's `ssl`), and against
//! hostile handshakes: half a ClientHello a thousand times, bytes that are not TLS, a PROXY
//! header before the handshake.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use predicates::prelude::*;

use crate::util::pki::{Pair, Pki, Validity, arg, socat_tls_server};
use crate::util::{
    Server, closed_by_peer, metric, metrics_addr, read_until, start_server, start_server_logged,
    upcase,
};

fn setup() -> (Pki, std::path::PathBuf, Pair) {
    let pki = Pki::new();
    let ca = pki.ca("peers");
    let pair = pki.server(&ca, "server", &["localhost", "127.0.0.1"], Validity::Now);
    let ca_cert = ca.cert.clone();
    (pki, ca_cert, pair)
}

fn tls_server(pair: &Pair, more: &[&str]) -> Server {
    let mut args = vec!["--tls", "--cert", arg(&pair.cert), "--key", arg(&pair.key)];
    args.extend_from_slice(more);
    start_server(&args)
}

/// Runs `program` with `args`, writes `input`, and returns its first line of output.
fn first_line(program: &str, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} (scripts/test.sh installs it): {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("input");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a line");
    let _ = child.kill();
    let _ = child.wait();
    line
}

/// Python's `ssl` as a client: sends a line after an optional PROXY header and prints the
/// reply's line, answered as it came. (Python cannot end a request and still read: its
/// `shutdown` drops TLS before closing TCP's sending side.)
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
port, cafile, version, header, message = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=cafile)
if version == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
raw = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
if header:
    raw.sendall(header.encode())
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(message.encode() + b"\n")
reply = b""
while not reply.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(s.version(), reply.decode(), end="")
"#;

fn python_client(port: u16, ca: &Path, version: &str, header: &str) -> std::process::Output {
    Command::new("python3")
        .args([
            "-c",
            PYTHON_CLIENT,
            &port.to_string(),
            arg(ca),
            version,
            header,
            "hello",
        ])
        .output()
        .expect("python3")
}

#[test]
#[ignore = "needs openssl, socat and ncat; `bash scripts/test.sh` installs them and runs it"]
fn openssl_socat_ncat_and_python_are_served_over_tls() {
    let (_pki, ca, pair) = setup();
    let server = tls_server(&pair, &[]);
    let port = server.tls().port().to_string();
    let at = format!("127.0.0.1:{port}");
    let s_client = [
        "s_client",
        "-connect",
        &at,
        "-quiet",
        "-CAfile",
        arg(&ca),
        "-verify_return_error",
    ];
    assert_eq!(
        first_line("openssl", &s_client, b"hello openssl\n"),
        "HELLO OPENSSL\n"
    );
    let tls12 = [&s_client[..], &["-tls1_2"]].concat();
    assert_eq!(first_line("openssl", &tls12, b"twelve\n"), "TWELVE\n");
    let ncat = [
        "--ssl",
        "--ssl-verify",
        "--ssl-trustfile",
        arg(&ca),
        "localhost",
        &port,
    ];
    assert_eq!(first_line("ncat", &ncat, b"hello ncat\n"), "HELLO NCAT\n");
    // socat ends its request with close_notify and waits for the server to close.
    let socat = Command::new("socat")
        .args([
            "-",
            &format!("OPENSSL:localhost:{port},cafile={}", arg(&ca)),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat (scripts/test.sh installs it)");
    let mut socat = socat;
    socat
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello socat\n")
        .expect("input");
    let out = socat.wait_with_output().expect("socat ends");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO SOCAT\n");
    // Python, with a TCP half-close under TLS to end its request, over 1.3 and 1.2.
    for version in ["1.3", "1.2"] {
        let out = python_client(server.tls().port(), &ca, version, "");
        let expected = format!("TLSv{version} HELLO\n");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{out:?}");
    }
}

/// A child process, killed when dropped, even by a failed assertion.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `upcase client --tls` to `port` on localhost, trusting `ca`.
fn client_of(port: u16, ca: &Path, more: &[&str]) -> assert_cmd::Command {
    let mut client = upcase();
    client
        .args([
            "client",
            "--tls",
            "--host",
            "localhost",
            "--cacert",
            arg(ca),
            "--port",
        ])
        .arg(port.to_string())
        .args(more);
    client
}

#[test]
#[ignore = "needs openssl, socat and ncat; `bash scripts/test.sh` installs them and runs it"]
fn the_client_talks_to_socat_and_openssl_tls_servers() {
    let (_pki, ca, pair) = setup();
    let (_socat, port) = socat_tls_server(&pair);
    let client = |more: &[&str]| client_of(port, &ca, more);
    assert!(read_until(|| client(&["hi"]).ok().is_ok(), |ok| *ok));
    client(&["hello", "socat"])
        .assert()
        .success()
        .stdout("HELLO SOCAT\n");
    let input = "line\n".repeat(20_000);
    client(&[])
        .write_stdin(input.clone())
        .assert()
        .success()
        .stdout(input.to_uppercase());
    client(&["--count", "2", "--interval", "100ms"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 received"));
    let port = free_port();
    let s_server = Command::new("openssl")
        .args(["s_server", "-accept", &port.to_string(), "-rev", "-quiet"])
        .args(["-cert", arg(&pair.cert), "-key", arg(&pair.key)])
        // Kept open: s_server stops at the end of its standard input.
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    let _s_server = Killed(s_server);
    // `-rev` answers each line reversed, then says goodbye in words of its own.
    let reversed = read_until(|| client_of(port, &ca, &["hello"]).ok(), Result::is_ok);
    let reply = String::from_utf8_lossy(&reversed.expect("served").stdout).into_owned();
    assert!(reply.starts_with("olleh"), "{reply}");
}

/// A port nothing listens on now, for a peer server to take.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// The start of a ClientHello: a record header that promises 512 bytes, and 40 of them.
const HALF_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
];

#[test]
fn a_thousand_half_handshakes_are_bounded_closed_at_the_deadline_and_counted() {
    let (_pki, ca, pair) = setup();
    let _ = rlimit::increase_nofile_limit(8192);
    let more = [
        "--idle-timeout",
        "3s",
        "--max-connections-per-source",
        "0",
        "--metrics",
        "127.0.0.1:0",
    ];
    let mut server = tls_server(&pair, &more);
    let metrics = metrics_addr(&mut server);
    let before = server.rss_kib();
    let mut hanging: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut stream = TcpStream::connect(server.tls()).expect("connect");
            stream.write_all(HALF_HELLO).expect("half a hello");
            stream
        })
        .collect();
    // A newcomer is served all the same.
    upcase()
        .args([
            "client",
            "--tls",
            "--host",
            "localhost",
            "--cacert",
            arg(&ca),
            "--port",
        ])
        .arg(server.tls().port().to_string())
        .arg("still here")
        .assert()
        .success()
        .stdout("STILL HERE\n");
    let grown = server.rss_kib().saturating_sub(before);
    assert!(grown < 1000 * 64, "{grown} KiB for 1000 half handshakes");
    for stream in &mut hanging {
        assert!(closed_by_peer(stream), "closed at the handshake deadline");
    }
    let timeouts = r#"upcase_tls_handshake_failures_total{reason="timeout"}"#;
    assert_eq!(
        read_until(|| metric(metrics, timeouts), |n| *n >= 1000),
        1000
    );
}

#[test]
fn bytes_that_are_not_tls_are_counted_without_a_log_flood() {
    let (_pki, _ca, pair) = setup();
    let args = [
        "--tls",
        "--cert",
        arg(&pair.cert),
        "--key",
        arg(&pair.key),
        "--metrics",
        "127.0.0.1:0",
    ];
    let mut server = start_server_logged(&args, "warn");
    let metrics = metrics_addr(&mut server);
    for _ in 0..50 {
        let mut stream = TcpStream::connect(server.tls()).expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        assert!(closed_by_peer(&mut stream));
    }
    let not_tls = r#"upcase_tls_handshake_failures_total{reason="not_tls"}"#;
    assert_eq!(read_until(|| metric(metrics, not_tls), |n| *n >= 50), 50);
    let (_, log) = server.signal_and_log("TERM");
    let lines = log.lines().filter(|l| l.contains("(not_tls)")).count();
    assert!(
        (1..10).contains(&lines),
        "{lines} lines for 50 failures:\n{log}"
    );
}

#[test]
fn a_proxy_header_comes_before_the_handshake_and_names_the_client() {
    let (_pki, ca, pair) = setup();
    let more = [
        "--proxy-protocol",
        "--deny",
        "127.9.9.9",
        "--metrics",
        "127.0.0.1:0",
    ];
    let mut server = tls_server(&pair, &more);
    let metrics = metrics_addr(&mut server);
    let port = server.tls().port();
    let header = |client: &str| format!("PROXY TCP4 {client} 127.0.0.1 5555 {port}\r\n");
    let out = python_client(port, &ca, "1.3", &header("127.8.8.8"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "TLSv1.3 HELLO\n",
        "{out:?}"
    );
    let out = python_client(port, &ca, "1.3", &header("127.9.9.9"));
    assert!(
        !out.status.success(),
        "a denied client is closed before its handshake"
    );
    assert_eq!(
        metric(metrics, r#"upcase_dropped_total{reason="denied"}"#),
        1
    );
    let served = r#"upcase_requests_total{transport="tls"}"#;
    assert_eq!(read_until(|| metric(metrics, served), |n| *n >= 1), 1);
}

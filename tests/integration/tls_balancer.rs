//! upcase behind nginx's stream module over TLS, both ways balancers are run: nginx ends TLS
//! in front of plain upcase servers, or passes TLS through to upcase's TLS servers; with PROXY
//! headers either way, so each connection is served and logged by its client's own address.
//! And QUIC, which nginx's stream module relays as UDP (it has no PROXY header for UDP).

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::nginx::{Nginx, start_nginx, upstream};
use crate::util::pki::{Pair, Pki, Validity, arg};
use crate::util::{Server, metric, metrics_addr, read_until, start_server_logged, upcase};

/// Two upcase servers behind a balancer: PROXY headers on, metrics on, logging connections.
fn servers(more: &[&str]) -> (Vec<Server>, Vec<SocketAddr>) {
    let args = [
        &[
            "--bind",
            "127.0.0.1",
            "--proxy-protocol",
            "--metrics",
            "127.0.0.1:0",
        ][..],
        more,
    ]
    .concat();
    let mut servers: Vec<Server> = (0..2)
        .map(|_| start_server_logged(&args, "debug"))
        .collect();
    let metrics = servers.iter_mut().map(metrics_addr).collect();
    (servers, metrics)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// `hello` sent by socat from the loopback address `source`, over TLS to `port`, trusting
/// `ca`; the reply.
fn socat_from(source: &str, port: u16, ca: &Path) -> String {
    let mut socat = Command::new("socat")
        .args([
            "-",
            &format!("OPENSSL:127.0.0.1:{port},bind={source},cafile={}", arg(ca)),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("socat (scripts/test.sh installs it)");
    socat
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("input");
    let out = socat.wait_with_output().expect("socat ends");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// upcase's own client and load generator through the balancer on `port`: `requests` in all.
fn upcase_clients_through(port: u16, ca: &Path) -> u64 {
    let port = port.to_string();
    let client = [
        "--tls",
        "--host",
        "127.0.0.1",
        "--cacert",
        arg(ca),
        "--port",
        &port,
    ];
    upcase()
        .arg("client")
        .args(client)
        .arg("through nginx")
        .assert()
        .success()
        .stdout("THROUGH NGINX\n");
    let windowed = ["--conns", "2", "--window", "4", "--requests", "400"];
    let reconnecting = ["--reconnect", "--requests", "20"];
    for load in [&windowed[..], &reconnecting[..]] {
        upcase()
            .arg("bench")
            .args(client)
            .args(load)
            .assert()
            .success()
            .stdout(predicates::str::contains(", lost 0, wrong 0"));
    }
    // A connection is one request: the client's; each load's first, which checks the server's
    // certificate before the load; the windowed load's two; and the twenty of the other.
    1 + (1 + 2) + (1 + 20)
}

/// Both servers served, `total` requests between them, and the socat client from `source`
/// was logged by its own address.
fn check_served(servers: Vec<Server>, metrics: &[SocketAddr], total: u64, source: &str) {
    let counts = read_until(
        || {
            metrics
                .iter()
                .map(|&m| metric(m, "upcase_requests_total"))
                .collect::<Vec<_>>()
        },
        |counts| counts.iter().sum::<u64>() >= total,
    );
    assert_eq!(counts.iter().sum::<u64>(), total, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "a server got nothing: {counts:?}"
    );
    let logs: String = servers
        .into_iter()
        .map(|server| server.signal_and_log("TERM").1)
        .collect();
    let line = format!("connection from {source}:");
    assert!(logs.contains(&line), "{line:?} missing:\n{logs}");
}

fn setup() -> (Pki, std::path::PathBuf, Pair) {
    let pki = Pki::new();
    let ca = pki.ca("edge");
    let pair = pki.server(&ca, "edge", &["localhost", "127.0.0.1"], Validity::Now);
    let ca_cert = ca.cert.clone();
    (pki, ca_cert, pair)
}

fn nginx(dir: &Path, server_block: &str, upstreams: &[u16]) -> Nginx {
    let servers = upstream(upstreams);
    start_nginx(
        dir,
        &format!("upstream upcase {{ {servers} }}\n{server_block}"),
    )
}

#[test]
#[ignore = "needs nginx and its stream module; `bash scripts/test.sh` installs them and runs it"]
fn nginx_ends_tls_in_front_of_plain_upcase_servers() {
    let (_pki, ca, pair) = setup();
    let (servers, metrics) = servers(&["--tcp"]);
    let dir = tempfile::tempdir().expect("a directory");
    let port = free_port();
    let block = format!(
        "server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {}; ssl_certificate_key {}; \
         proxy_pass upcase; proxy_protocol on; proxy_half_close on; }}",
        arg(&pair.cert),
        arg(&pair.key)
    );
    let ports: Vec<u16> = servers.iter().map(|server| server.tcp().port()).collect();
    let _nginx = nginx(dir.path(), &block, &ports);
    let mut total = upcase_clients_through(port, &ca);
    assert_eq!(socat_from("127.0.0.3", port, &ca), "HELLO\n");
    total += 1;
    check_served(servers, &metrics, total, "127.0.0.3");
}

#[test]
#[ignore = "needs nginx and its stream module; `bash scripts/test.sh` installs them and runs it"]
fn nginx_passes_tls_through_to_upcase_tls_servers_with_proxy_headers() {
    let (_pki, ca, pair) = setup();
    let (servers, metrics) =
        servers(&["--tls", "--cert", arg(&pair.cert), "--key", arg(&pair.key)]);
    let dir = tempfile::tempdir().expect("a directory");
    let port = free_port();
    let block = format!(
        "server {{ listen 127.0.0.1:{port}; proxy_pass upcase; proxy_protocol on; \
         proxy_half_close on; }}"
    );
    let ports: Vec<u16> = servers.iter().map(|server| server.tls().port()).collect();
    let _nginx = nginx(dir.path(), &block, &ports);
    let mut total = upcase_clients_through(port, &ca);
    assert_eq!(socat_from("127.0.0.2", port, &ca), "HELLO\n");
    total += 1;
    // The handshake was the server's own: the request counts as TLS.
    let tls: u64 = metrics
        .iter()
        .map(|&m| metric(m, "upcase_requests_total{transport=\"tls\"}"))
        .sum();
    assert!(tls > 0);
    check_served(servers, &metrics, total, "127.0.0.2");
}

#[test]
#[ignore = "needs nginx, socat and Python's aioquic; `bash scripts/test.sh` installs them and runs it"]
fn nginx_relays_quic_as_udp_to_upcase_quic_servers() {
    let (_pki, ca, pair) = setup();
    let (servers, metrics) =
        servers(&["--quic", "--cert", arg(&pair.cert), "--key", arg(&pair.key)]);
    let dir = tempfile::tempdir().expect("a directory");
    let port = free_port();
    // Each client's datagrams keep to one server: nginx's UDP session is by client address,
    // and a QUIC connection must reach the server that holds it.
    let block =
        format!("server {{ listen 127.0.0.1:{port} udp; proxy_pass upcase; proxy_timeout 10s; }}");
    let ports: Vec<u16> = servers.iter().map(|server| server.quic().port()).collect();
    let _nginx = nginx(dir.path(), &block, &ports);
    upcase()
        .args([
            "client",
            "--quic",
            "--host",
            "127.0.0.1",
            "--servername",
            "localhost",
        ])
        .args([
            "--cacert",
            arg(&ca),
            "--port",
            &port.to_string(),
            "through nginx",
        ])
        .assert()
        .success()
        .stdout("THROUGH NGINX\n");
    let aioquic = Command::new(crate::util::pyenv::python())
        .arg(crate::util::pyenv::support("quic_client.py"))
        .args(["127.0.0.1", &port.to_string(), arg(&ca), "16"])
        .output()
        .expect("the aioquic client");
    assert!(aioquic.status.success(), "{aioquic:?}");
    let counts = read_until(
        || {
            metrics
                .iter()
                .map(|&m| metric(m, "upcase_requests_total{transport=\"quic\"}"))
                .collect::<Vec<_>>()
        },
        |counts| counts.iter().sum::<u64>() >= 17,
    );
    assert_eq!(counts.iter().sum::<u64>(), 17, "{counts:?}");
    assert!(
        counts.iter().all(|&n| n > 0),
        "one client each, round robin: {counts:?}"
    );
    drop(servers);
}

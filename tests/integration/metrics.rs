//! The `--metrics` endpoint against clients that hold on: connections that stay idle, send half
//! a header or keep alive are closed; a crowd of them cannot take the descriptors the service
//! needs; the service's `--allow`/`--deny` apply to it; `/healthz` and `/readyz` through a drain.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use socket2::{Domain, Socket, Type};

use crate::util::{
    Server, closed_by_peer, connect_from, http_get, http_request, metrics_addr, read_until,
    start_server, tcp_exchange,
};

/// The status code of an HTTP response.
fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
}

#[test]
fn head_is_answered_on_every_path_and_other_methods_get_405_with_allow() {
    let (_server, metrics) = with_metrics(&["--bind", "127.0.0.1"]);
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = http_request(metrics, "HEAD", path);
        assert_eq!(status_of(&response), 200, "HEAD {path}: {response}");
        let (head, body) = response.split_once("\r\n\r\n").expect("a header");
        assert_eq!(body, "", "HEAD {path} has no body");
        assert!(
            head.to_ascii_lowercase().contains("content-length: "),
            "{head}"
        );
    }
    assert_eq!(status_of(&http_request(metrics, "HEAD", "/nothing")), 404);
    assert_eq!(status_of(&http_request(metrics, "GET", "/nothing")), 404);
    for (method, path) in [
        ("POST", "/healthz"),
        ("DELETE", "/metrics"),
        ("PUT", "/nothing"),
    ] {
        let response = http_request(metrics, method, path);
        assert_eq!(status_of(&response), 405, "{method} {path}: {response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("\r\nallow: get, head\r\n"),
            "{response}"
        );
    }
}

#[test]
fn kept_alive_connections_from_one_address_cannot_starve_the_probes() {
    let (_server, metrics) = with_metrics(&["--bind", "127.0.0.1"]);
    // 70 connections from one address, each kept alive after a scrape.
    let hogs: Vec<TcpStream> = (0..70)
        .map(|_| {
            let mut stream = connect_from("127.0.0.7", metrics);
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: upcase\r\n\r\n");
            stream
        })
        .collect();
    // Probes from elsewhere are answered within Kubernetes' default timeout of a second.
    for _ in 0..10 {
        let mut probe = connect_from("127.0.0.8", metrics);
        probe
            .set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .expect("timeout");
        probe
            .write_all(b"GET /readyz HTTP/1.1\r\nHost: upcase\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut response = String::new();
        std::io::Read::read_to_string(&mut probe, &mut response).expect("answered within 1 s");
        assert_eq!(status_of(&response), 200, "{response}");
    }
    drop(hogs);
}

fn with_metrics(args: &[&str]) -> (Server, SocketAddr) {
    let mut server = start_server(&[&["--tcp", "--metrics", "127.0.0.1:0"], args].concat());
    let metrics = metrics_addr(&mut server);
    (server, metrics)
}

/// Descriptors the process `pid` has open.
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the server is running")
        .count()
}

#[test]
fn idle_half_sent_and_kept_alive_connections_are_closed() {
    let (_server, metrics) = with_metrics(&["--bind", "127.0.0.1"]);
    let mut idle = TcpStream::connect(metrics).expect("connect");
    let mut half = TcpStream::connect(metrics).expect("connect");
    half.write_all(b"GET /metr").expect("send");
    let mut kept = TcpStream::connect(metrics).expect("connect");
    kept.write_all(b"GET /metrics HTTP/1.1\r\nHost: upcase\r\n\r\n")
        .expect("send");
    for (what, stream) in [
        ("idle", &mut idle),
        ("half a header", &mut half),
        ("kept alive", &mut kept),
    ] {
        assert!(closed_by_peer(stream), "{what}: still open");
    }
}

#[test]
fn a_crowd_of_idle_metrics_connections_leaves_the_service_its_descriptors() {
    let (server, metrics) = with_metrics(&["--bind", "127.0.0.1"]);
    let pid = server.child.id();
    let before = open_fds(pid);
    // From many addresses, so that no one source's cap is what holds them back.
    let crowd: Vec<TcpStream> = (0..300)
        .map(|n| connect_from(&format!("127.0.1.{}", n % 50 + 1), metrics))
        .collect();
    // The cap's worth of them are accepted; the rest wait in the kernel's queue.
    let held = read_until(|| open_fds(pid), |&open| open >= before + 64);
    assert!(
        held <= before + 64 + 4,
        "{held} descriptors open, {before} before the crowd"
    );
    assert_eq!(tcp_exchange(server.tcp(), b"still served"), b"STILL SERVED");
    // As idle ones are closed, a scrape gets its turn.
    let response = http_get(metrics, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    drop(crowd);
}

#[test]
fn the_services_access_rules_apply_to_the_metrics_endpoint() {
    let (_server, metrics) = with_metrics(&["--bind", "127.0.0.1", "--allow", "127.0.0.2"]);
    let mut refused = TcpStream::connect(metrics).expect("connect");
    refused
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: upcase\r\n\r\n")
        .expect("send");
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut refused, &mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // From an allowed address, it is served.
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 2], 0)).into())
        .expect("bind 127.0.0.2");
    socket.connect(&metrics.into()).expect("connect");
    let mut allowed: TcpStream = socket.into();
    allowed
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: upcase\r\nConnection: close\r\n\r\n")
        .expect("send");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut allowed, &mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
}

#[test]
fn health_says_ok_and_readiness_turns_503_when_the_drain_starts() {
    let (mut server, metrics) = with_metrics(&["--bind", "127.0.0.1", "--drain-timeout", "30s"]);
    let status = |path: &str| {
        let response = http_get(metrics, path);
        response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"))
    };
    assert_eq!(status("/healthz"), 200);
    assert_eq!(status("/readyz"), 200);
    assert!(http_get(metrics, "/readyz").ends_with("ready\n"));
    // A connection still open keeps the drain going, and with it the endpoint.
    let mut held = TcpStream::connect(server.tcp()).expect("connect");
    held.write_all(b"still ").expect("send");
    crate::util::send_signal(server.child.id(), "TERM");
    read_until(|| status("/readyz"), |&code| code == 503);
    assert!(http_get(metrics, "/readyz").ends_with("draining: no new clients\n"));
    assert_eq!(status("/healthz"), 200, "alive through the drain");
    // The port closes as the workers start draining, a moment after readiness turns.
    read_until(
        || TcpStream::connect(server.tcp()).is_err(),
        |&closed| closed,
    );
    held.shutdown(std::net::Shutdown::Write)
        .expect("half-close");
    let mut reply = String::new();
    std::io::Read::read_to_string(&mut held, &mut reply).expect("the last reply");
    assert_eq!(reply, "STILL ");
    assert!(crate::util::wait_with_patience(&mut server.child).success());
}

#[test]
fn openmetrics_is_served_to_a_scraper_that_asks_for_it() {
    let (server, metrics) = with_metrics(&["--bind", "127.0.0.1"]);
    assert_eq!(tcp_exchange(server.tcp(), b"open"), b"OPEN");
    // Counted once its close is done, a moment after the client's.
    read_until(
        || http_get(metrics, "/metrics"),
        |text| text.contains("\nupcase_requests_total{transport=\"tcp\"} 1\n"),
    );
    let mut stream = TcpStream::connect(metrics).expect("connect");
    stream
        .set_read_timeout(Some(crate::util::PATIENCE))
        .expect("timeout");
    // What Prometheus sends.
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: upcase\r\nConnection: close\r\nAccept: \
         application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).expect("response");
    assert!(
        response.contains(
            "content-type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{response}"
    );
    assert!(
        response.contains("\n# TYPE upcase_requests counter\n"),
        "{response}"
    );
    assert!(
        response.contains("\nupcase_requests_total{transport=\"tcp\"} 1\n"),
        "{response}"
    );
    assert!(response.ends_with("# EOF\n"), "{response}");
    // Without the header, the classic text format, which promtool reads.
    let classic = http_get(metrics, "/metrics");
    assert!(
        classic.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{classic}"
    );
    assert!(!classic.contains("# EOF"), "{classic}");
}

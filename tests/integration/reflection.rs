//! A loop between upcase and another echo-like service, started by one datagram forged from a
//! raw socket, dies out within a few dozen exchanges with every limit off; a client at the
//! forged address is answered afterwards, and clients that repeat themselves are answered as
//! before.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::util::{
    PATIENCE, Server, forge, metric, metrics_addr, raw_socket, read_until, spawn_server,
    start_textbook_server, upcase,
};

/// The most datagrams the loop may cost upcase before it is caught.
const FEW_DOZEN: u64 = 64;

/// upcase with every limit off, its metrics on, on 127.0.0.1.
fn upcase_without_limits(transform: &str) -> (Server, SocketAddr) {
    let mut command = std::process::Command::new(crate::util::binary());
    command.args([
        "server",
        "--udp",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--workers",
        "1",
        "--max-datagrams-per-source",
        "0",
        "--transform",
        transform,
        "--metrics",
        "127.0.0.1:0",
    ]);
    let mut server = spawn_server(&mut command, &["udp"]);
    let metrics = metrics_addr(&mut server);
    (server, metrics)
}

/// Waits until upcase's answered and dropped datagrams stop growing, and returns how many it
/// answered. The loop has died when two readings a little apart agree.
fn loop_settles(metrics: SocketAddr) -> u64 {
    let reading = || {
        let before = metric(metrics, "upcase_requests_total");
        std::thread::sleep(Duration::from_millis(200));
        (before, metric(metrics, "upcase_requests_total"))
    };
    let (before, after) = read_until(reading, |(before, after)| before == after && *after > 0);
    assert_eq!(before, after, "the loop went on for {PATIENCE:?}");
    after
}

/// An RFC 862 echo service on `at`, answering everything until stopped; gives its socket back.
struct Echo {
    /// The service's socket, to start a loop from.
    sender: UdpSocket,
    stop: Arc<AtomicBool>,
    echoed: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<UdpSocket>,
    addr: SocketAddrV4,
}

impl Echo {
    fn start(at: &str) -> Echo {
        Echo::start_delayed(at, Duration::ZERO)
    }

    /// An echo service that answers each datagram after `delay`, as one across a WAN does.
    fn start_delayed(at: &str, delay: Duration) -> Echo {
        let socket = UdpSocket::bind(at).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let addr = match socket.local_addr().expect("address") {
            SocketAddr::V4(v4) => v4,
            SocketAddr::V6(_) => panic!("bound IPv4"),
        };
        let sender = socket.try_clone().expect("clone the socket");
        let (stop, echoed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
        );
        let thread = {
            let (stop, echoed) = (Arc::clone(&stop), Arc::clone(&echoed));
            std::thread::spawn(move || {
                let mut buf = [0; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = socket.recv_from(&mut buf) {
                        std::thread::sleep(delay);
                        let _ = socket.send_to(&buf[..n], from);
                        echoed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                socket
            })
        };
        Echo {
            sender,
            stop,
            echoed,
            thread,
            addr,
        }
    }

    /// Sends `upcase` one datagram from this service's address, which starts a loop.
    fn kick(&self, upcase: SocketAddr) {
        self.sender.send_to(b"ONE DATAGRAM", upcase).expect("send");
    }

    /// Waits until this service has echoed nothing more for a while, and returns how many
    /// datagrams it echoed in all.
    fn settles(&self, delay: Duration) -> u64 {
        let reading = || {
            let before = self.echoed.load(Ordering::Relaxed);
            // Two round trips with nothing echoed: the loop has died.
            std::thread::sleep(2 * delay + Duration::from_millis(200));
            (before, self.echoed.load(Ordering::Relaxed))
        };
        let (before, after) = read_until(reading, |(before, after)| before == after && *after > 0);
        assert_eq!(before, after, "the loop went on for {PATIENCE:?}");
        after
    }

    fn stop(self) -> UdpSocket {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("echo thread")
    }
}

#[test]
#[ignore = "needs root for a raw socket that forges sources; `bash scripts/test.sh` runs it as root"]
fn a_forged_datagram_between_upcase_and_any_echo_service_starts_no_endless_loop() {
    let raw = raw_socket();
    let (server, metrics) = upcase_without_limits("upper");
    let upcase_at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, server.port());

    // An RFC 862 echo at another address and port.
    let echo = Echo::start("127.0.0.2:0");
    forge(&raw, echo.addr, upcase_at, b"one forged datagram");
    let answered = loop_settles(metrics);
    assert!(
        answered <= FEW_DOZEN,
        "{answered} replies to the echo service"
    );
    assert!(echo.echoed.load(Ordering::Relaxed) <= FEW_DOZEN + 1);
    assert_eq!(
        metric(metrics, "upcase_dropped_total{reason=\"echo_loop\"}"),
        1
    );
    // The address the loop went through is answered again at once.
    let socket = echo.stop();
    socket
        .send_to(b"a real client", server.udp())
        .expect("send");
    socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut buf = [0; 64];
    let n = socket.recv(&mut buf).expect("answered");
    assert_eq!(&buf[..n], b"A REAL CLIENT");

    // The textbook's UDPServer, another port on the same address.
    let (mut textbook, port) = start_textbook_server("UDPServer.py");
    let from = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    forge(&raw, from, upcase_at, b"to the textbook");
    let answered = loop_settles(metrics) - answered - 1;
    let _ = textbook.kill();
    let _ = textbook.wait();
    assert!(
        answered <= FEW_DOZEN,
        "{answered} replies to the textbook's server"
    );
    assert_eq!(
        metric(metrics, "upcase_dropped_total{reason=\"echo_loop\"}"),
        2
    );

    // A second upcase, upper-casing too.
    let (other, other_metrics) = upcase_without_limits("upper");
    let from = SocketAddrV4::new(Ipv4Addr::LOCALHOST, other.port());
    let before = metric(metrics, "upcase_requests_total");
    forge(&raw, from, upcase_at, b"to another upcase");
    let answered = loop_settles(metrics) - before;
    assert!(
        answered <= FEW_DOZEN,
        "{answered} replies to the other upcase"
    );
    let loops = metric(metrics, "upcase_dropped_total{reason=\"echo_loop\"}")
        + metric(other_metrics, "upcase_dropped_total{reason=\"echo_loop\"}");
    assert!(loops >= 3, "caught by one side or the other: {loops}");
}

#[test]
fn clients_that_repeat_themselves_against_echo_are_answered_as_before() {
    let (server, _metrics) = upcase_without_limits("echo");
    let port = server.port().to_string();
    let target = ["--host", "127.0.0.1", "--port", &port];
    // One message over and over, as fast as probes go.
    upcase()
        .args(["client", "--udp", "--count", "50", "--interval", "1ms"])
        .args(target)
        .arg("same")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "50 probes sent, 50 received, 0% loss",
        ));
    // A load generator: requests in flight, each its own.
    upcase()
        .args([
            "bench",
            "--udp",
            "--window",
            "8",
            "--requests",
            "5000",
            "--json",
        ])
        .args(target)
        .assert()
        .success()
        .stdout(predicates::str::contains("\"lost\":0,\"wrong\":0"));
}

#[test]
#[ignore = "needs root for a raw socket that forges sources; `bash scripts/test.sh` runs it as root"]
fn a_reply_the_system_refuses_to_send_is_a_failure_not_served() {
    let raw = raw_socket();
    let (server, metrics) = upcase_without_limits("upper");
    let upcase_at = SocketAddrV4::new(Ipv4Addr::LOCALHOST, server.port());
    // Loopback's broadcast address: sending there is refused (EACCES) without SO_BROADCAST.
    let broadcast = SocketAddrV4::new(Ipv4Addr::new(127, 255, 255, 255), 5000);
    forge(&raw, broadcast, upcase_at, b"to a broadcast address");
    let failed = read_until(
        || metric(metrics, "upcase_dropped_total{reason=\"network_failure\"}"),
        |&failed| failed > 0,
    );
    assert_eq!(failed, 1);
    assert_eq!(
        metric(metrics, "upcase_requests_total"),
        0,
        "not also served"
    );
    assert_eq!(metric(metrics, "upcase_sent_bytes_total"), 0);
}

#[test]
fn loops_with_echo_services_far_away_die_out_as_fast_as_near_ones() {
    let (server, metrics) = upcase_without_limits("upper");
    let delays = [12, 30, 50, 300, 1_000].map(Duration::from_millis);
    let echoes: Vec<Echo> = delays
        .iter()
        .map(|delay| Echo::start_delayed("127.0.0.2:0", *delay))
        .collect();
    // The one datagram that starts each loop, as if forged from the echo service's address
    // (sent from its own socket, it is the same datagram, and needs no raw socket).
    for echo in &echoes {
        echo.kick(server.udp());
    }
    for (echo, delay) in echoes.iter().zip(delays) {
        let echoed = echo.settles(delay);
        assert!(
            echoed <= FEW_DOZEN + 1,
            "{echoed} exchanges with an echo service {delay:?} away"
        );
    }
    assert_eq!(
        metric(metrics, "upcase_dropped_total{reason=\"echo_loop\"}"),
        delays.len() as u64
    );
    for echo in echoes {
        drop(echo.stop());
    }
}

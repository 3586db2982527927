//! `serve_blocking_udp`: a UDP socket served on a thread of its own, under the same rules as a
//! listener served by `run`.
#![cfg(target_os = "linux")]

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use upcase_proto::Builtin;
use upcase_server::{Access, Event, Options, Service, parse_network, serve_blocking_udp};
use upcase_transport::{BlockingUdp, ServerSocket, Sharing, Transport, Udp, UdpStopper};

/// How long a test waits for anything before it fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// Long enough to be sure a datagram is not coming on loopback.
const NO_REPLY: Duration = Duration::from_millis(300);

/// A socket on `at` (port 0) served by a thread of its own: its address, its stopper, and a
/// receiver told when the thread returns.
fn start_server(at: &str, service: &Arc<Service>) -> (SocketAddr, UdpStopper, mpsc::Receiver<()>) {
    let bound = Udp
        .bind_socket(at.parse().expect("address"), Sharing::Exclusive)
        .expect("bind");
    let socket = BlockingUdp::new(bound).expect("a blocking socket");
    let addr = socket.local_addr().expect("address");
    let stopper = socket.stopper();
    let (ended, end) = mpsc::channel();
    let service = Arc::clone(service);
    thread::spawn(move || {
        serve_blocking_udp(socket, Builtin::Upper, &service);
        let _ = ended.send(());
    });
    (addr, stopper, end)
}

/// Sends `message` from a socket on `at`; the reply, if one comes within `wait`.
fn exchange(at: &str, server: SocketAddr, message: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(at).expect("bind");
    socket.set_read_timeout(Some(wait)).expect("timeout");
    socket.send_to(message, server).expect("send");
    let mut buf = vec![0; 65_536];
    let n = socket.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

#[test]
fn datagrams_are_answered_admitted_and_counted_as_by_run() {
    let options = Options {
        access: Access {
            allow: Vec::new(),
            deny: vec![parse_network("127.0.0.2").expect("network")],
        },
        ..Options::default()
    };
    let service = Service::new(options);
    let (server, stopper, end) = start_server("127.0.0.1:0", &service);

    assert_eq!(
        exchange("127.0.0.1:0", server, b"hello", PATIENCE).as_deref(),
        Some(&b"HELLO"[..])
    );
    assert_eq!(exchange("127.0.0.2:0", server, b"denied", NO_REPLY), None);
    // 30,000 × ΐ is 60,000 bytes; upper-cased, 180,000: three characters each.
    let too_large = "ΐ".repeat(30_000);
    assert_eq!(
        exchange("127.0.0.1:0", server, too_large.as_bytes(), NO_REPLY),
        None
    );
    assert_eq!(
        exchange("127.0.0.1:0", server, b"still here", PATIENCE).as_deref(),
        Some(&b"STILL HERE"[..])
    );

    stopper.stop();
    end.recv_timeout(PATIENCE)
        .expect("the thread returns once stopped");
    let totals = service.totals();
    assert_eq!(
        (
            totals.count(Event::Served),
            totals.count(Event::Denied),
            totals.count(Event::ReplyTooLarge)
        ),
        (2, 1, 1),
        "{totals:?}"
    );
    assert_eq!(totals.bytes_out, 15, "{totals:?}");
}

#[test]
fn a_stopped_socket_no_longer_answers_over_ipv6() {
    let service = Service::new(Options::default());
    let (server, stopper, end) = start_server("[::1]:0", &service);
    assert_eq!(
        exchange("[::1]:0", server, b"before", PATIENCE).as_deref(),
        Some(&b"BEFORE"[..])
    );
    stopper.stop();
    end.recv_timeout(PATIENCE)
        .expect("the thread returns once stopped");
    assert_eq!(exchange("[::1]:0", server, b"after", NO_REPLY), None);
    assert_eq!(service.totals().count(Event::Served), 1);
}

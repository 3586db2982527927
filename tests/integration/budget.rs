//! `--buffer-budget`: clients that send and never read cannot make the server hold more than
//! the budget in replies. Connections past it wait, reading nothing more, and every one of them
//! gets its whole reply once its client reads: none is dropped for it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use crate::util::{PATIENCE, Server, metric, metrics_addr, read_until, start_server};

/// Greek small iota with dialytika and tonos: two bytes that upper-case to six.
const GROWS_3X: &str = "\u{0390}";

fn with_budget(budget: &str) -> (Server, SocketAddr) {
    let mut server = start_server(&[
        "--tcp",
        "--bind",
        "127.0.0.1",
        "--workers",
        "1",
        "--max-connections-per-source",
        "0",
        "--buffer-budget",
        budget,
        "--metrics",
        "127.0.0.1:0",
    ]);
    let metrics = metrics_addr(&mut server);
    (server, metrics)
}

/// A connection with a small receive window, so that the server's replies back up into its
/// own memory soon, sending `request` from a thread of its own and then closing for writing.
fn hoarder(server: SocketAddr, request: &'static [u8]) -> (TcpStream, std::thread::JoinHandle<()>) {
    hoarder_after(
        server,
        request,
        std::sync::Arc::new(std::sync::Barrier::new(1)),
    )
}

/// As [`hoarder`], sending once `start` lets it.
fn hoarder_after(
    server: SocketAddr,
    request: &'static [u8],
    start: std::sync::Arc<std::sync::Barrier>,
) -> (TcpStream, std::thread::JoinHandle<()>) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket
        .set_recv_buffer_size(4096)
        .expect("small receive buffer");
    socket.connect(&server.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut sender = stream.try_clone().expect("clone");
    // A client dropped before it has sent everything ends its sender with an error.
    let sending = std::thread::spawn(move || {
        start.wait();
        if sender.write_all(request).is_ok() {
            let _ = sender.shutdown(Shutdown::Write);
        }
    });
    (stream, sending)
}

/// What a reply to one full read (16 KiB of text that grows 3×) holds, about.
const LARGEST: u64 = 48 * 1024;

/// Replies of this many bytes fill the kernel's buffers on loopback (about 3 MB a connection),
/// so that the rest waits in the server.
const HOARD: usize = 640 * 1024;

/// Starts `clients` hoarders and returns them with the most the server held while they did,
/// once it holds `at_least`.
fn hoard(
    metrics: SocketAddr,
    server: SocketAddr,
    clients: usize,
    at_least: u64,
) -> (Vec<(TcpStream, std::thread::JoinHandle<()>)>, u64) {
    let request: &'static [u8] = GROWS_3X.repeat(HOARD).leak().as_bytes();
    let hoarders: Vec<_> = (0..clients).map(|_| hoarder(server, request)).collect();
    (hoarders, most_held(metrics, at_least))
}

/// Once the server holds `at_least` bytes of replies, the most it holds over a few readings
/// after that.
fn most_held(metrics: SocketAddr, at_least: u64) -> u64 {
    let held = read_until(
        || metric(metrics, "upcase_buffered_bytes"),
        |&held| held >= at_least,
    );
    (0..20).fold(held, |most, _| {
        std::thread::sleep(Duration::from_millis(20));
        most.max(metric(metrics, "upcase_buffered_bytes"))
    })
}

#[test]
fn hoarding_clients_wait_within_the_budget_and_none_is_dropped() {
    let (server, metrics) = with_budget("131072");
    let expected = "\u{0399}\u{0308}\u{0301}".repeat(HOARD);
    // Two largest replies fit in the budget; the third client past it waits.
    let (hoarders, most) = hoard(metrics, server.tcp(), 8, 2 * LARGEST);
    assert!(most <= 131_072 + 64 * 1024, "{most} bytes held");
    // Every client, once it reads, gets its whole reply. They read at once: a client that
    // waits for the budget gets it back only as the others' replies leave.
    let readers: Vec<_> = hoarders
        .into_iter()
        .map(|(mut stream, sending)| {
            std::thread::spawn(move || {
                let mut reply = Vec::new();
                stream.read_to_end(&mut reply).expect("the whole reply");
                sending.join().expect("sender");
                reply
            })
        })
        .collect();
    for reader in readers {
        let reply = reader.join().expect("reader");
        assert!(
            reply == expected.as_bytes(),
            "a reply of {} bytes",
            reply.len()
        );
    }
    assert_eq!(metric(metrics, "upcase_buffered_bytes"), 0);
}

#[test]
fn without_room_in_the_budget_hoarders_hold_only_what_it_allows() {
    // The same crowd, with a budget that it cannot fill: each of them holds a reply.
    let (server, metrics) = with_budget("1073741824");
    let (_hoarders, unbounded) = hoard(metrics, server.tcp(), 6, 6 * LARGEST);
    let (server, metrics) = with_budget("65536");
    let (_hoarders, bounded) = hoard(metrics, server.tcp(), 6, LARGEST);
    assert!(unbounded >= 6 * LARGEST, "{unbounded}");
    assert!(
        bounded <= 2 * 64 * 1024,
        "{bounded} bytes held with a 64 KiB budget"
    );
}

#[test]
fn connections_that_waited_while_the_budget_had_room_cannot_all_fill_it_at_once() {
    let (server, metrics) = with_budget("65536");
    let request: &'static [u8] = GROWS_3X.repeat(HOARD).leak().as_bytes();
    let start = std::sync::Arc::new(std::sync::Barrier::new(7));
    let hoarders: Vec<_> = (0..6)
        .map(|_| hoarder_after(server.tcp(), request, std::sync::Arc::clone(&start)))
        .collect();
    // All six are accepted and waiting to read while the budget is empty; then all send.
    let open = read_until(
        || metric(metrics, "upcase_open_connections"),
        |&open| open == 6,
    );
    assert_eq!(open, 6);
    start.wait();
    let most = most_held(metrics, LARGEST);
    assert!(
        most <= 2 * 64 * 1024,
        "{most} bytes held with a 64 KiB budget"
    );
    drop(hoarders);
}

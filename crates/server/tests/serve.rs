//! The serving loop on good input, over real loopback sockets, driven through `run`.

mod common;

use std::time::Duration;

use common::{PATIENCE, read_exactly, read_to_close, start_server, start_service, udp_exchange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use upcase_server::{Event, Options};
use upcase_transport::{Tcp, Udp};

#[tokio::test]
async fn tcp_answers_without_waiting_for_newline_or_close() {
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"hello world").await.expect("send");
    assert_eq!(read_exactly(&mut client, 11).await, b"HELLO WORLD");
    // The same connection carries more messages.
    client.write_all("straße\n".as_bytes()).await.expect("send");
    assert_eq!(read_exactly(&mut client, 8).await, b"STRASSE\n");
    drop(client);
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::Served), 1);
    assert_eq!((totals.bytes_in, totals.bytes_out), (19, 19));
}

#[tokio::test]
async fn tcp_joins_a_character_split_between_packets() {
    let server = start_server::<Tcp>("[::1]:0", "upper", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    client.write_all(b"a\xc3").await.expect("send");
    // Answered up to the split character, which the server holds: the rest comes apart.
    assert_eq!(read_exactly(&mut client, 1).await, b"A");
    client.write_all(b"\x9f").await.expect("send");
    assert_eq!(read_exactly(&mut client, 2).await, b"SS");
    drop(client);
    server.shut_down().await;
}

#[tokio::test]
async fn tcp_half_close_gets_everything_owed_then_close() {
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"mississippi\nsasss").await.expect("send");
    client.shutdown().await.expect("half-close");
    assert_eq!(read_to_close(&mut client).await, b"4\n4\n");
    server.shut_down().await;
}

#[tokio::test]
async fn tcp_serves_many_connections_at_once() {
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let mut clients = Vec::new();
    for i in 0..50 {
        let mut client = TcpStream::connect(server.addr).await.expect("connect");
        client
            .write_all(format!("client {i}").as_bytes())
            .await
            .expect("send");
        clients.push((i, client));
    }
    for (i, mut client) in clients {
        let expected = format!("CLIENT {i}");
        assert_eq!(
            read_exactly(&mut client, expected.len()).await,
            expected.as_bytes()
        );
    }
    server.shut_down().await;
}

#[tokio::test]
async fn udp_answers_each_datagram_to_its_source() {
    let server = start_server::<Udp>("[::1]:0", "upper", Options::default()).await;
    let a = UdpSocket::bind("[::1]:0").await.expect("bind");
    let b = UdpSocket::bind("[::1]:0").await.expect("bind");
    a.send_to(b"from a", server.addr).await.expect("send");
    b.send_to(b"from b", server.addr).await.expect("send");
    a.send_to(b"", server.addr).await.expect("send");
    let mut buf = [0; 64];
    for (socket, expected) in [(&a, &b"FROM A"[..]), (&b, b"FROM B"), (&a, b"")] {
        let (n, from) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf))
            .await
            .expect("reply in time")
            .expect("reply");
        assert_eq!((&buf[..n], from), (expected, server.addr));
    }
    assert_eq!(server.shut_down().await.count(Event::Served), 3);
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let options = Options {
        max_connections: 1,
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut first = TcpStream::connect(server.addr).await.expect("connect");
    first.write_all(b"first").await.expect("send");
    assert_eq!(read_exactly(&mut first, 5).await, b"FIRST");

    let mut second = TcpStream::connect(server.addr)
        .await
        .expect("queued by the kernel");
    second.write_all(b"second").await.expect("send");
    let mut buf = [0; 6];
    let early = tokio::time::timeout(Duration::from_millis(300), second.read_exact(&mut buf)).await;
    assert!(early.is_err(), "served while the only slot was taken");

    drop(first);
    assert_eq!(read_exactly(&mut second, 6).await, b"SECOND");
    drop(second);
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_closes_the_port_but_lets_open_connections_finish() {
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", Options::default()).await;
    let addr = server.addr;
    let mut client = TcpStream::connect(addr).await.expect("connect");
    client.write_all(b"ss\n").await.expect("send");
    assert_eq!(read_exactly(&mut client, 2).await, b"2\n");
    let stopped = tokio::spawn(server.shut_down());
    let refused = tokio::time::timeout(PATIENCE, async {
        while TcpStream::connect(addr).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "no new connection during the drain");
    // The open connection goes on as usual, and ends when its client is done.
    client
        .write_all(b"sss\ns")
        .await
        .expect("send during the drain");
    client.shutdown().await.expect("half-close");
    assert_eq!(read_to_close(&mut client).await, b"3\n1\n");
    let totals = stopped.await.expect("run");
    assert_eq!(
        (totals.count(Event::Served), totals.count(Event::Cut)),
        (1, 0)
    );
}

#[tokio::test]
async fn after_the_drain_timeout_each_connection_is_answered_and_closed() {
    let options = Options {
        drain_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", options).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"ss\nsss").await.expect("send");
    assert_eq!(read_exactly(&mut client, 2).await, b"2\n");
    let started = std::time::Instant::now();
    let totals = server.shut_down().await;
    // The unfinished line was answered as at the end of a stream, then the connection closed.
    assert_eq!(read_to_close(&mut client).await, b"3\n");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "not before the drain timeout"
    );
    assert_eq!(totals.count(Event::Cut), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_drain_timeout_a_client_that_never_pauses_is_cut_too() {
    cut_a_client_that_never_stops_sending(Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_drain_timeout_a_client_that_sends_faster_than_it_reads_is_cut_too() {
    // The server's read is then always ready, and it waits only on its writes.
    cut_a_client_that_never_stops_sending(Duration::from_millis(1)).await;
}

/// A client sends without pause and reads its replies, pausing `pace` between reads; once the
/// drain timeout has run out, the server must end its stream all the same.
async fn cut_a_client_that_never_stops_sending(pace: Duration) {
    let options = Options {
        drain_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    // Served before the drain begins.
    client.write_all(b"first").await.expect("send");
    assert_eq!(read_exactly(&mut client, 5).await, b"FIRST");
    let (mut from_server, mut to_server) = client.into_split();
    let sending = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 * 1024];
        while to_server.write_all(&chunk).await.is_ok() {}
    });
    let (first, got_first) = tokio::sync::oneshot::channel();
    let reading = tokio::spawn(async move {
        let mut first = Some(first);
        let mut buf = vec![0; 64 * 1024];
        let mut answered = 0;
        loop {
            match from_server.read(&mut buf).await {
                Ok(0) | Err(_) => return answered,
                Ok(n) => {
                    assert!(
                        buf[..n].iter().all(|&b| b == b'X'),
                        "only answers come back"
                    );
                    answered += n;
                    if let Some(first) = first.take() {
                        let _ = first.send(());
                    }
                }
            }
            if !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
        }
    });
    // Shut down mid-stream: once answers are coming.
    let _ = tokio::time::timeout(PATIENCE, got_first).await;
    let stopping = tokio::spawn(server.shut_down());
    let answered = tokio::time::timeout(PATIENCE, reading)
        .await
        .expect("the server ends the stream")
        .expect("reader");
    assert!(answered > 0, "answered until the cut");
    // Having seen the end, the client stops sending and closes, as clients do; the server,
    // which reads and discards until then, can finish closing.
    sending.abort();
    let totals = stopping.await.expect("shutdown");
    assert_eq!(totals.count(Event::Cut), 1);
}

#[tokio::test]
async fn shutdown_gives_up_on_a_client_that_never_reads() {
    let options = Options {
        drain_timeout: Duration::from_millis(200),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    // Keep sending and never read, until the server's replies fill every buffer between us.
    let chunk = vec![b'x'; 64 * 1024];
    let filled = async {
        loop {
            client.write_all(&chunk).await.expect("send");
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), filled).await;
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::Cut), 1);
    // Given up on, the connection is closed, though the runtime goes on.
    assert_closed(&mut client).await;
}

#[tokio::test]
async fn shutdown_closes_a_connection_still_waiting_for_its_proxy_header() {
    let options = Options {
        drain_timeout: Duration::from_millis(200),
        proxy_protocol: true,
        ..Options::default()
    };
    let (server, service) = start_service::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    // Shut down only once the connection is accepted, and waits for its header.
    tokio::time::timeout(PATIENCE, async {
        while service.open_connections() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection is accepted");
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::ProxyHeader), 1);
    assert_closed(&mut client).await;
}

/// Reads and discards until the server closes or resets `client`, or fails the test.
async fn assert_closed(client: &mut TcpStream) {
    let mut buf = vec![0; 64 * 1024];
    let closed = async { while let Ok(1..) = client.read(&mut buf).await {} };
    tokio::time::timeout(PATIENCE, closed)
        .await
        .expect("the server closes the connection");
}

#[tokio::test]
async fn ipv4_and_ipv6_both_work() {
    let server = start_server::<Udp>("127.0.0.1:0", "lower", Options::default()).await;
    assert_eq!(udp_exchange("127.0.0.1:0", server.addr, b"V4").await, b"v4");
    server.shut_down().await;
    let server = start_server::<Udp>("[::1]:0", "lower", Options::default()).await;
    assert_eq!(udp_exchange("[::1]:0", server.addr, b"V6").await, b"v6");
    server.shut_down().await;
}

#[tokio::test]
async fn a_service_is_ready_until_its_drain_starts_whatever_the_transport() {
    for udp in [true, false] {
        let (server, service) = if udp {
            start_service::<Udp>("127.0.0.1:0", "upper", Options::default()).await
        } else {
            start_service::<Tcp>("127.0.0.1:0", "upper", Options::default()).await
        };
        assert!(service.is_ready(), "serving");
        server.shut_down().await;
        assert!(!service.is_ready(), "drained (udp: {udp})");
    }
}

//! Bad input and bad peers on TCP (`datagrams.rs` has UDP's): each is answered as the protocol says or refused, counted, and
//! never stops the server serving everyone else.

mod common;

use std::time::Duration;

use common::{
    PATIENCE, access, capture_log, connect_from, expected, noise, read_exactly, read_to_close,
    start_server, start_service, tcp_exchange,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use upcase_server::{Event, Options};
use upcase_transport::Tcp;

#[tokio::test]
async fn invalid_utf8_and_noise_come_back_as_sent_over_tcp() {
    let log = capture_log();
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let noise = noise(1, 100_000);
    for input in [
        &b"ok \xff\xfe \xc3( \xed\xa0\x80"[..],
        b"cut off at the end \xe2\x82",
        &noise,
    ] {
        assert_eq!(
            tcp_exchange(server.addr, input).await,
            expected("upper", input)
        );
    }
    assert_eq!(
        tcp_exchange(server.addr, b"still fine").await,
        b"STILL FINE"
    );
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::Served), 4);
    assert!(totals.invalid_bytes > 10_000, "{totals:?}");
    log.assert_line(&[
        "connection from 127.0.0.1:",
        ": served, ",
        "not UTF-8 (passed through)",
    ]);
}

#[tokio::test]
async fn a_line_over_max_line_ends_the_connection_after_the_lines_before_it() {
    let log = capture_log();
    let options = Options {
        max_line: 10,
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", options).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"ss\nsss\n").await.expect("send");
    assert_eq!(read_exactly(&mut client, 4).await, b"2\n3\n");
    let _ = client.write_all(&[b's'; 11]).await;
    assert_eq!(
        read_to_close(&mut client).await,
        b"",
        "closed, with no answer for the long line"
    );
    assert_eq!(
        tcp_exchange(server.addr, b"ss").await,
        b"2\n",
        "others are served"
    );
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::LineTooLong), 1);
    log.assert_line(&[
        "WARN",
        "closing connection from 127.0.0.1:",
        ": line longer than 10 bytes (--max-line)",
    ]);
}

#[tokio::test]
async fn a_slow_sender_is_answered_byte_by_byte_while_others_are_served() {
    let log = capture_log();
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.set_nodelay(true).expect("nodelay");
    for byte in b"slowly" {
        slow.write_all(&[*byte]).await.expect("send");
        assert_eq!(
            read_exactly(&mut slow, 1).await,
            [byte.to_ascii_uppercase()]
        );
        assert_eq!(tcp_exchange(server.addr, b"meanwhile").await, b"MEANWHILE");
    }
    drop(slow);
    server.shut_down().await;
    log.assert_line(&["connection from 127.0.0.1:", ": served, 6 bytes in, 6 out"]);
}

#[tokio::test]
async fn a_connection_idle_past_the_timeout_is_closed() {
    let log = capture_log();
    let options = Options {
        idle_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let mut slower = TcpStream::connect(server.addr).await.expect("connect");
    slower.write_all(b"a").await.expect("send");
    assert_eq!(read_exactly(&mut slower, 1).await, b"A");
    // Slower than the idle timeout (it sends nothing more): closed like a silent one.
    assert_eq!(read_to_close(&mut silent).await, b"");
    assert_eq!(read_to_close(&mut slower).await, b"");
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::IdleTimeout), 2);
    log.assert_line(&[
        "closing connection from 127.0.0.1:",
        ": idle for 300ms (--idle-timeout)",
    ]);
}

#[tokio::test]
async fn with_an_idle_timeout_of_zero_a_quiet_connection_stays_open() {
    let options = Options {
        idle_timeout: Duration::ZERO,
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut quiet = TcpStream::connect(server.addr).await.expect("connect");
    // A fixed wait, to show that nothing happens: quiet for a while, it is not closed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    quiet.write_all(b"late").await.expect("send");
    assert_eq!(read_exactly(&mut quiet, 4).await, b"LATE");
    quiet.shutdown().await.expect("half-close");
    assert_eq!(read_to_close(&mut quiet).await, b"");
    let totals = server.shut_down().await;
    assert_eq!(
        (
            totals.count(Event::IdleTimeout),
            totals.count(Event::Served)
        ),
        (0, 1)
    );
}

#[tokio::test]
async fn a_connection_active_within_each_idle_period_stays_open_past_it() {
    let options = Options {
        idle_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut steady = TcpStream::connect(server.addr).await.expect("connect");
    // A byte every 100 ms for a second: over three idle periods in all, never one idle.
    for byte in b"abcdefghij" {
        steady.write_all(&[*byte]).await.expect("send");
        assert_eq!(
            read_exactly(&mut steady, 1).await,
            [byte.to_ascii_uppercase()]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    steady.shutdown().await.expect("half-close");
    assert_eq!(read_to_close(&mut steady).await, b"");
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::IdleTimeout), 0, "{totals:?}");
    assert_eq!(totals.count(Event::Served), 1, "{totals:?}");
}

#[tokio::test]
async fn a_client_that_never_reads_is_held_back_not_buffered() {
    let log = capture_log();
    let options = Options {
        idle_timeout: Duration::from_millis(800),
        ..Options::default()
    };
    let (server, service) = start_service::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut hog = TcpStream::connect(server.addr).await.expect("connect");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    let started = std::time::Instant::now();
    // Send until the server stops taking bytes, for at most a few seconds.
    while started.elapsed() < Duration::from_secs(3) {
        match tokio::time::timeout(Duration::from_millis(300), hog.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) | Err(_) => break,
        }
    }
    assert!(
        sent < 64 << 20,
        "the server took {sent} bytes it could not send back"
    );
    assert_eq!(tcp_exchange(server.addr, b"others").await, b"OTHERS");
    // Stuck on a client that takes nothing: closed once the idle timeout runs out.
    tokio::time::timeout(PATIENCE, async {
        while service.totals().count(Event::IdleTimeout) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the idle timeout ends the connection");
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::IdleTimeout), 1, "{totals:?}");
    log.assert_line(&[
        "closing connection from 127.0.0.1:",
        ": idle for 800ms (--idle-timeout)",
    ]);
}

#[tokio::test]
async fn a_reset_mid_stream_is_counted_and_others_are_served() {
    let log = capture_log();
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"partial").await.expect("send");
    assert_eq!(read_exactly(&mut client, 7).await, b"PARTIAL");
    // A zero linger time makes closing send a reset instead of a FIN.
    socket2::SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .expect("linger");
    drop(client);
    assert_eq!(tcp_exchange(server.addr, b"next").await, b"NEXT");
    let totals = server.shut_down().await;
    assert_eq!(
        (totals.count(Event::Failed), totals.count(Event::Served)),
        (1, 1)
    );
    log.assert_line(&["connection from 127.0.0.1:", ": connection reset by peer"]);
}

#[tokio::test]
async fn denied_connections_are_closed_at_once() {
    let log = capture_log();
    let options = Options {
        access: access(&["127.0.0.0/8"], &["127.0.0.1"]),
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut denied = connect_from("127.0.0.1", server.addr)
        .await
        .expect("the handshake is the kernel's");
    let _ = denied.write_all(b"let me in").await;
    let mut reply = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, denied.read_to_end(&mut reply))
        .await
        .expect("closed at once");
    assert!(
        closed.is_err() || reply.is_empty(),
        "no reply to a denied peer"
    );
    let mut allowed = connect_from("127.0.0.2", server.addr)
        .await
        .expect("connect");
    allowed.write_all(b"hi").await.expect("send");
    assert_eq!(read_exactly(&mut allowed, 2).await, b"HI");
    drop(allowed);
    let totals = server.shut_down().await;
    assert_eq!(
        (totals.count(Event::Denied), totals.count(Event::Served)),
        (1, 1)
    );
    log.assert_line(&[
        "WARN",
        "refused connection from 127.0.0.1:",
        ": not allowed by --allow/--deny",
    ]);
}

#[tokio::test]
async fn a_source_over_its_connection_limit_is_closed_at_once() {
    let log = capture_log();
    let options = Options {
        max_connections_per_source: 2,
        ..Options::default()
    };
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect_from("127.0.0.3", server.addr)
            .await
            .expect("connect");
        stream.write_all(b"x").await.expect("send");
        assert_eq!(read_exactly(&mut stream, 1).await, b"X");
        held.push(stream);
    }
    let mut third = connect_from("127.0.0.3", server.addr)
        .await
        .expect("handshake");
    let _ = third.write_all(b"y").await;
    let mut reply = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, third.read_to_end(&mut reply))
        .await
        .expect("closed at once");
    assert!(closed.is_err() || reply.is_empty());
    let mut other = connect_from("127.0.0.4", server.addr)
        .await
        .expect("another source");
    other.write_all(b"z").await.expect("send");
    assert_eq!(read_exactly(&mut other, 1).await, b"Z");
    drop((held, other));
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::SourceLimit), 1);
    log.assert_line(&[
        "WARN",
        "refused connection from 127.0.0.3:",
        ": its source has 2 connections open already (--max-connections-per-source)",
    ]);
}

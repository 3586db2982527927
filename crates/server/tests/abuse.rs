//! Bad input and bad peers: each is answered as the protocol says or refused, counted, and
//! never stops the server serving everyone else.

mod common;

use std::time::Duration;

use common::{
    PATIENCE, capture_log, connect_from, datagram_within, expected, noise, read_exactly,
    read_to_close, start_server, start_server_with, tcp_exchange, udp_client, udp_exchange,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use upcase_proto::Transform;
use upcase_server::{Access, Event, Options, parse_network};
use upcase_transport::{Tcp, Udp};

/// Long enough to be sure a datagram is not coming on loopback.
const NO_REPLY: Duration = Duration::from_millis(300);

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
async fn invalid_utf8_and_noise_come_back_as_sent_over_udp() {
    let log = capture_log();
    let server = start_server::<Udp>("[::1]:0", "upper", Options::default()).await;
    for seed in 1..20 {
        let input = noise(seed, 1000 * seed as usize);
        assert_eq!(
            udp_exchange("[::1]:0", server.addr, &input).await,
            expected("upper", &input)
        );
    }
    assert_eq!(
        udp_exchange("[::1]:0", server.addr, b"\xe2\x82").await,
        b"\xe2\x82"
    );
    assert_eq!(server.shut_down().await.count(Event::Served), 20);
    log.assert_line(&[
        "datagram from [::1]:",
        ": served, 2 bytes in, 2 out, 2 not UTF-8 (passed through)",
    ]);
}

#[tokio::test]
async fn zero_length_and_the_largest_datagrams_are_answered_whole() {
    let log = capture_log();
    for (at, max) in [("127.0.0.1:0", 65_507), ("[::1]:0", 65_527)] {
        let server = start_server::<Udp>(at, "upper", Options::default()).await;
        assert_eq!(udp_exchange(at, server.addr, b"").await, b"");
        let reply = udp_exchange(at, server.addr, &vec![b'a'; max]).await;
        assert_eq!(reply, vec![b'A'; max], "{at}");
        server.shut_down().await;
    }
    log.assert_line(&["datagram from 127.0.0.1:", ": served, 0 bytes in, 0 out"]);
    log.assert_line(&[
        "datagram from [::1]:",
        ": served, 65527 bytes in, 65527 out",
    ]);
}

#[tokio::test]
async fn a_reply_too_large_for_a_datagram_is_dropped_and_counted() {
    let log = capture_log();
    let server = start_server::<Udp>("127.0.0.1:0", "upper", Options::default()).await;
    let client = udp_client("127.0.0.1:0", server.addr).await;
    // 30,000 × ΐ is 60,000 bytes; upper-cased, 180,000: three characters each.
    client
        .send("ΐ".repeat(30_000).as_bytes())
        .await
        .expect("send");
    assert_eq!(
        datagram_within(&client, NO_REPLY).await,
        None,
        "never a truncated reply"
    );
    client.send(b"still here").await.expect("send");
    assert_eq!(
        datagram_within(&client, PATIENCE).await.as_deref(),
        Some(&b"STILL HERE"[..])
    );
    let totals = server.shut_down().await;
    assert_eq!(
        (
            totals.count(Event::ReplyTooLarge),
            totals.count(Event::Served)
        ),
        (1, 1)
    );
    log.assert_line(&[
        "WARN",
        "reply of 180000 bytes to 127.0.0.1:",
        "does not fit in a UDP datagram (65507 at most); dropped",
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
async fn a_datagram_with_a_line_over_max_line_gets_no_reply() {
    let log = capture_log();
    let options = Options {
        max_line: 10,
        ..Options::default()
    };
    let server = start_server::<Udp>("127.0.0.1:0", "count=s", options).await;
    let client = udp_client("127.0.0.1:0", server.addr).await;
    client.send(b"ok\nsssssssssss").await.expect("send");
    assert_eq!(datagram_within(&client, NO_REPLY).await, None);
    client.send(b"ok\nssssssssss").await.expect("send");
    assert_eq!(
        datagram_within(&client, PATIENCE).await.as_deref(),
        Some(&b"0\n10\n"[..])
    );
    let totals = server.shut_down().await;
    assert_eq!(
        (
            totals.count(Event::LineTooLong),
            totals.count(Event::Served)
        ),
        (1, 1)
    );
    log.assert_line(&[
        "WARN",
        "dropped datagram from 127.0.0.1:",
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
        tokio::time::sleep(Duration::from_millis(50)).await;
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
    // Slower than the idle timeout: closed like a silent one.
    tokio::time::sleep(Duration::from_millis(500)).await;
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    quiet.write_all(b"late").await.expect("send");
    assert_eq!(read_exactly(&mut quiet, 4).await, b"LATE");
    tokio::time::sleep(Duration::from_millis(300)).await;
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
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", options).await;
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
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

fn access(allow: &[&str], deny: &[&str]) -> Access {
    let nets = |list: &[&str]| {
        list.iter()
            .map(|n| parse_network(n).expect("network"))
            .collect()
    };
    Access {
        allow: nets(allow),
        deny: nets(deny),
    }
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
async fn denied_datagrams_get_no_reply() {
    let log = capture_log();
    let options = Options {
        access: access(&["127.0.0.2"], &[]),
        ..Options::default()
    };
    let server = start_server::<Udp>("127.0.0.1:0", "upper", options).await;
    let denied = udp_client("127.0.0.1:0", server.addr).await;
    denied.send(b"hello").await.expect("send");
    assert_eq!(datagram_within(&denied, NO_REPLY).await, None);
    assert_eq!(
        udp_exchange("127.0.0.2:0", server.addr, b"hello").await,
        b"HELLO"
    );
    let totals = server.shut_down().await;
    assert_eq!(
        (totals.count(Event::Denied), totals.count(Event::Served)),
        (1, 1)
    );
    log.assert_line(&[
        "WARN",
        "refused datagram from 127.0.0.1:",
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

#[tokio::test]
async fn a_source_over_its_datagram_rate_is_dropped() {
    let log = capture_log();
    let options = Options {
        max_datagrams_per_source: 5,
        ..Options::default()
    };
    let server = start_server::<Udp>("127.0.0.1:0", "upper", options).await;
    let client = udp_client("127.0.0.5:0", server.addr).await;
    for _ in 0..20 {
        client.send(b"burst").await.expect("send");
    }
    let mut replies = 0;
    while datagram_within(&client, NO_REPLY).await.is_some() {
        replies += 1;
    }
    // Five a second; a burst that straddles two one-second windows may get ten.
    assert!((5..=10).contains(&replies), "{replies} replies");
    assert_eq!(
        udp_exchange("127.0.0.6:0", server.addr, b"other").await,
        b"OTHER"
    );
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::RateLimit), 20 - replies);
    log.assert_line(&[
        "WARN",
        "refused datagram from 127.0.0.5:",
        ": its source sent over 5 datagrams this second (--max-datagrams-per-source)",
    ]);
}

#[tokio::test]
async fn datagrams_from_small_service_ports_or_our_own_are_never_answered() {
    let log = capture_log();
    let server = start_server::<Udp>("127.0.0.1:0", "echo", Options::default()).await;
    let own = format!("127.0.0.2:{}", server.addr.port());
    let mut sources: Vec<String> = [7, 9, 13, 17, 19, 37]
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect();
    sources.push(own);
    for source in &sources {
        let socket = UdpSocket::bind(source.as_str())
            .await
            .unwrap_or_else(|e| panic!("bind {source} (ports below 1024 need root): {e}"));
        socket.send_to(b"loop?", server.addr).await.expect("send");
        let mut buf = [0; 16];
        let reply = tokio::time::timeout(NO_REPLY, socket.recv_from(&mut buf)).await;
        assert!(reply.is_err(), "answered {source}");
    }
    assert_eq!(
        udp_exchange("127.0.0.1:0", server.addr, b"fine").await,
        b"fine"
    );
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::Reflection), sources.len() as u64);
    log.assert_line(&["WARN", "refused datagram from 127.0.0.1:7: source port 7 is a small service that answers anything; a reply could be reflected at a third party"]);
}

/// Repeats each character `times` times: a transform whose replies grow as much as we like.
#[derive(Clone)]
struct Repeat(usize);

impl Transform for Repeat {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        for c in text.chars() {
            for _ in 0..self.0 {
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            }
        }
    }
}

#[tokio::test]
async fn replies_over_three_times_their_datagram_are_dropped() {
    let log = capture_log();
    let server = start_server_with::<Udp, _>("127.0.0.1:0", Repeat(4), Options::default()).await;
    let client = udp_client("127.0.0.1:0", server.addr).await;
    client.send(b"amplify").await.expect("send");
    assert_eq!(datagram_within(&client, NO_REPLY).await, None);
    server.shut_down().await;

    let server = start_server_with::<Udp, _>("127.0.0.1:0", Repeat(3), Options::default()).await;
    assert_eq!(
        udp_exchange("127.0.0.1:0", server.addr, b"ab").await,
        b"aaabbb"
    );
    // Over TCP the handshake proved the source, so there is no such bound.
    let totals = server.shut_down().await;
    assert_eq!(totals.count(Event::Served), 1);
    let server = start_server_with::<Tcp, _>("127.0.0.1:0", Repeat(4), Options::default()).await;
    assert_eq!(tcp_exchange(server.addr, b"ab").await, b"aaaabbbb");
    server.shut_down().await;
    log.assert_line(&[
        "WARN",
        "dropped the reply to 127.0.0.1:",
        ": 28 bytes would be more than 3 times its 7-byte request",
    ]);
}

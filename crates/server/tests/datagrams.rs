//! Bad datagrams and floods of them: each is answered as the protocol says or refused, counted,
//! and never stops the server serving everyone else.

mod common;

use std::time::Duration;

use common::{
    PATIENCE, access, capture_log, datagram_within, expected, noise, start_server,
    start_server_with, tcp_exchange, udp_client, udp_exchange,
};
use tokio::net::UdpSocket;
use upcase_proto::Transform;
use upcase_server::{Event, Options};
use upcase_transport::{Tcp, Udp};

/// Long enough to be sure a datagram is not coming on loopback.
const NO_REPLY: Duration = Duration::from_millis(300);

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
#[ignore = "needs root to bind ports below 1024; `bash scripts/test.sh` runs it as root"]
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

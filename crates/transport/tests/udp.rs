//! UDP, both sides, over real sockets on 127.0.0.1 and ::1: the client's retries and limits,
//! and the server's batches.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{V4, V6, addr, closed_port, next_reply, quick, serve_datagrams, start_server, upper};
use tokio::net::UdpSocket;
use upcase_transport::{
    Answer, BatchError, Client, ClientOptions, ServerSocket, Transport, TransportError, Udp,
    Unsent, Why,
};

#[tokio::test]
async fn udp_carries_the_largest_datagrams_whole() {
    for (at, max) in [(V4, 65_507), (V6, 65_527)] {
        let server = start_server::<Udp>(at).await;
        let mut client = Udp.connect(vec![server], quick()).await.expect("connect");
        let message = vec![b'a'; max];
        let reply = client.exchange(&message).await.expect("reply");
        assert_eq!(reply, vec![b'A'; max], "{at}");
        match client.exchange(&vec![b'a'; max + 1]).await {
            Err(TransportError::MessageTooLarge { len, max: limit }) => {
                assert_eq!((len, limit), (max + 1, max));
            }
            other => panic!("expected MessageTooLarge, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn udp_server_refuses_to_truncate_a_reply_that_grew() {
    let mut server = Udp.bind(addr(V4)).await.expect("bind");
    let at = server.local_addr().expect("address");
    let client = UdpSocket::bind(V4).await.expect("client socket");
    // 30,000 × ΐ is 60,000 bytes; upper-cased, 180,000.
    client
        .send_to("ΐ".repeat(30_000).as_bytes(), at)
        .await
        .expect("send");
    let answered = server
        .answer_batch(|datagram| Answer::Reply(upper(datagram.payload)))
        .await;
    let unsent: Vec<SocketAddr> = server.unsent().iter().map(|unsent| unsent.to).collect();
    assert_eq!(unsent, [client.local_addr().expect("address")]);
    let Err(BatchError::Send(error)) = answered else {
        panic!("expected a refused reply, got {answered:?}");
    };
    match error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TransportError>())
    {
        Some(TransportError::ReplyTooLarge { len, max, .. }) => {
            assert_eq!((*len, *max), (180_000, 65_507))
        }
        other => panic!("expected ReplyTooLarge, got {other:?}"),
    }
    let mut buf = [0; 16];
    let nothing =
        tokio::time::timeout(Duration::from_millis(100), client.recv_from(&mut buf)).await;
    assert!(nothing.is_err(), "no partial reply may be sent");
}

#[tokio::test]
async fn a_datagram_comes_to_the_answer_whole_and_once() {
    // Bound to every address, the socket learns where each datagram was sent (Linux); bound
    // to one, it needs not: the destination is its own address.
    for (bind, learns) in [("[::]:0", cfg!(target_os = "linux")), (V6, false)] {
        let mut server = Udp.bind(addr(bind)).await.expect("bind");
        let port = server.local_addr().expect("address").port();
        let client = UdpSocket::bind(V6).await.expect("client socket");
        let at: SocketAddr = (std::net::Ipv6Addr::LOCALHOST, port).into();
        client.send_to(b"one datagram", at).await.expect("send");
        let mut seen = Vec::new();
        server
            .answer_batch(|datagram| {
                seen.push((datagram.from, datagram.to, datagram.payload.to_vec()));
                Answer::Silence
            })
            .await
            .expect("a batch");
        let from = client.local_addr().expect("address");
        let to = if learns {
            upcase_transport::Destination::Local(from.ip())
        } else {
            upcase_transport::Destination::Unknown
        };
        assert_eq!(
            seen,
            [(from, to, b"one datagram".to_vec())],
            "bound to {bind}"
        );
    }
}

#[tokio::test]
async fn udp_retries_until_a_reply_comes() {
    let server = UdpSocket::bind(V4).await.expect("bind");
    let server_addr = server.local_addr().expect("address");
    // Ignores the first try; answers the second.
    let lossy = tokio::spawn(async move {
        let mut buf = [0; 64];
        let (_, _) = server.recv_from(&mut buf).await.expect("first try");
        let (n, from) = server.recv_from(&mut buf).await.expect("second try");
        server
            .send_to(&buf[..n].to_ascii_uppercase(), from)
            .await
            .expect("reply");
    });
    let mut client = Udp
        .connect(vec![server_addr], quick())
        .await
        .expect("connect");
    assert_eq!(client.exchange(b"again").await.expect("reply"), b"AGAIN");
    lossy.await.expect("server task");
}

#[tokio::test]
async fn udp_gives_up_after_its_retries() {
    let silent = UdpSocket::bind(V6).await.expect("bind");
    let silent_addr = silent.local_addr().expect("address");
    let options = ClientOptions {
        timeout: Duration::from_millis(50),
        retries: 2,
        ..ClientOptions::default()
    };
    let mut client = Udp
        .connect(vec![silent_addr], options)
        .await
        .expect("connect");
    let error = client.exchange(b"anyone?").await.expect_err("no reply");
    assert!(
        matches!(error, TransportError::NoReply { tries: 3, .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("no reply from udp {silent_addr} after 3 tries, waiting 50ms each")
    );
    let mut buf = [0; 16];
    for _ in 0..3 {
        assert_eq!(silent.try_recv_from(&mut buf).expect("a try arrived").0, 7);
    }
    assert!(
        silent.try_recv_from(&mut buf).is_err(),
        "exactly 1 + retries tries"
    );
}

#[tokio::test]
async fn udp_port_unreachable_is_final_for_that_address() {
    let closed = closed_port(V4).await;
    let mut client = Udp.connect(vec![closed], quick()).await.expect("connect");
    match client.exchange(b"hello").await {
        Err(TransportError::Refused(at)) => assert_eq!(at, closed),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn udp_pipe_sends_each_line_and_prints_each_reply() {
    let server = start_server::<Udp>(V4).await;
    let mut client = Udp.connect(vec![server], quick()).await.expect("connect");
    let mut output = Vec::new();
    client
        .pipe(&b"one\ntwo\r\n\nlast"[..], &mut output)
        .await
        .expect("pipe");
    assert_eq!(output, b"ONE\nTWO\r\n\nLAST\n");
}

#[tokio::test]
async fn udp_pipe_refuses_a_line_too_long_for_a_datagram() {
    let server = start_server::<Udp>(V4).await;
    let mut client = Udp.connect(vec![server], quick()).await.expect("connect");
    let mut input = b"fine\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 70_000));
    input.extend_from_slice(b"\nnever sent\n");
    let mut output = Vec::new();
    let error = client
        .pipe(&input[..], &mut output)
        .await
        .expect_err("too long");
    assert_eq!(
        error.to_string(),
        "message of 70000 bytes does not fit in a UDP datagram (65507 at most)"
    );
    assert_eq!(output, b"FINE\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_answers_each_datagram_of_a_burst_once() {
    let listener = Udp.bind(addr(V4)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    tokio::spawn(serve_datagrams(listener));
    // Four clients at once, each keeping up to 32 datagrams in flight (within what the
    // kernel's default receive buffer holds), so that they queue up and are taken in batches.
    let clients: Vec<_> = (0..4)
        .map(|c| tokio::spawn(burst(server, c, 300, 32)))
        .collect();
    for client in clients {
        client.await.expect("client task");
    }
}

/// Sends `count` datagrams, at most `window` unanswered at a time, and checks that each is
/// answered exactly once.
async fn burst(server: SocketAddr, c: usize, count: usize, window: usize) {
    let client = UdpSocket::bind(V4).await.expect("client socket");
    let mut sent = 0;
    let mut replies = Vec::new();
    while replies.len() < count {
        while sent < count && sent - replies.len() < window {
            let message = format!("client {c} datagram {sent}");
            client
                .send_to(message.as_bytes(), server)
                .await
                .expect("send");
            sent += 1;
        }
        let (reply, from) = next_reply(&client, "every datagram is answered").await;
        assert_eq!(from, server);
        replies.push(String::from_utf8(reply).expect("text"));
    }
    replies.sort();
    let mut expected: Vec<String> = (0..count)
        .map(|i| format!("CLIENT {c} DATAGRAM {i}"))
        .collect();
    expected.sort();
    assert_eq!(replies, expected);
    let mut buf = [0; 64];
    let extra = tokio::time::timeout(Duration::from_millis(100), client.recv_from(&mut buf)).await;
    assert!(extra.is_err(), "one reply per datagram, no more");
}

/// What one client of [`replies_sent_together_stay_separate_datagrams_in_order`] sends: runs of
/// one size broken by a longer and a shorter datagram, as segmented sends must cut them.
fn mixed_sizes(client: char) -> Vec<String> {
    let mut messages: Vec<String> = (0..12).map(|i| format!("{client}{i:03}")).collect();
    messages.insert(5, format!("{client} is longer"));
    messages.push(format!("{client}"));
    messages.extend((12..20).map(|i| format!("{client}{i:03}")));
    messages
}

#[tokio::test]
async fn replies_sent_together_stay_separate_datagrams_in_order() {
    for at in [V4, V6] {
        let listener = Udp.bind(addr(at)).await.expect("bind");
        let server = listener.local_addr().expect("address");
        let clients = [
            UdpSocket::bind(at).await.expect("client socket"),
            UdpSocket::bind(at).await.expect("client socket"),
        ];
        let sent = [mixed_sizes('a'), mixed_sizes('b')];
        // Interleaved and all queued before the server reads, so that one batch holds both
        // clients' datagrams and its replies leave together.
        for i in 0..sent[0].len() {
            for (client, messages) in clients.iter().zip(&sent) {
                client
                    .send_to(messages[i].as_bytes(), server)
                    .await
                    .expect("send");
            }
        }
        let serving = tokio::spawn(serve_datagrams(listener));
        for (client, messages) in clients.iter().zip(&sent) {
            for message in messages {
                let (reply, from) = next_reply(client, "every datagram is answered").await;
                assert_eq!(from, server);
                assert_eq!(
                    String::from_utf8_lossy(&reply),
                    message.to_uppercase(),
                    "on {at}: each reply its own datagram, in the order sent"
                );
            }
        }
        serving.abort();
    }
}

#[tokio::test]
async fn a_datagram_refused_in_a_batch_leaves_the_others_answered() {
    let mut server = Udp.bind(addr(V6)).await.expect("bind");
    let at = server.local_addr().expect("address");
    let client = UdpSocket::bind(V6).await.expect("client socket");
    client.send_to(b"answer me", at).await.expect("send");
    client.send_to(b"refuse me", at).await.expect("send");
    let mut answered = 0;
    while answered < 2 {
        server
            .answer_batch(|datagram| {
                answered += 1;
                match datagram.payload {
                    b"refuse me" => Answer::Silence,
                    payload => Answer::Reply(upper(payload)),
                }
            })
            .await
            .expect("a batch");
    }
    let (reply, _) = next_reply(&client, "the first datagram is answered").await;
    assert_eq!(reply, b"ANSWER ME");
    let mut buf = [0; 16];
    let extra = tokio::time::timeout(Duration::from_millis(100), client.recv_from(&mut buf)).await;
    assert!(extra.is_err(), "no reply to the refused one");
}

#[tokio::test]
async fn each_reply_that_did_not_leave_is_named_by_its_place() {
    let mut server = Udp.bind(addr(V4)).await.expect("bind");
    let at = server.local_addr().expect("address");
    let client = UdpSocket::bind(V4).await.expect("client socket");
    let from = client.local_addr().expect("address");
    // Three requests from one client: the second's reply, 180,000 bytes, cannot be a datagram.
    let requests = [
        b"before".to_vec(),
        "ΐ".repeat(30_000).into_bytes(),
        b"after".to_vec(),
    ];
    for request in &requests {
        client.send_to(request, at).await.expect("send");
    }
    // The requests may come in more than one batch: places are counted across them.
    let (mut given, mut unsent) = (0, Vec::new());
    while given < requests.len() {
        let mut replies = 0;
        let answered = server
            .answer_batch(|datagram| {
                replies += 1;
                Answer::Reply(upper(datagram.payload))
            })
            .await;
        assert!(answered.is_ok() || matches!(answered, Err(BatchError::Send(_))));
        unsent.extend(server.unsent().iter().map(|unsent| Unsent {
            reply: given + unsent.reply,
            ..*unsent
        }));
        given += replies;
    }
    let too_large = Unsent {
        reply: 1,
        to: from,
        why: Why::TooLarge {
            len: 180_000,
            max: 65_507,
        },
    };
    assert_eq!(unsent, [too_large], "the second reply alone, by its place");
    for expected in [&b"BEFORE"[..], b"AFTER"] {
        let (reply, _) = next_reply(&client, "the replies that fit are sent").await;
        assert_eq!(reply, expected);
    }
}

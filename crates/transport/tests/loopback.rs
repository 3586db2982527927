//! Both sides of both transports, over real sockets on 127.0.0.1 and ::1.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use upcase_proto::{Builtin, Transformer};
use upcase_transport::{
    Client, ClientOptions, Listener, Peer, Tcp, Transport, TransportError, Udp,
};

const V4: &str = "127.0.0.1:0";
const V6: &str = "[::1]:0";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

fn quick() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(200),
        retries: 2,
        ..ClientOptions::default()
    }
}

/// Serves one peer the way the server crate does: transform each chunk as it comes.
async fn serve_peer<P: Peer>(mut peer: P) -> Result<(), TransportError> {
    let mut stream = Transformer::new(Builtin::Upper);
    let mut out = Vec::new();
    loop {
        out.clear();
        let chunk = peer.read().await?;
        if chunk.is_empty() {
            stream.finish(&mut out);
            peer.write(&out).await?;
            return peer.close().await;
        }
        stream.feed(chunk, &mut out).expect("no line limit");
        peer.write(&out).await?;
    }
}

/// Binds `at` (port 0) and serves every peer in the background; returns the bound address.
async fn start_server<T: Transport>(at: &str) -> SocketAddr {
    let mut listener = T::bind(addr(at)).await.expect("bind on loopback");
    let local = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        while let Ok(peer) = listener.accept().await {
            tokio::spawn(serve_peer(peer));
        }
    });
    local
}

async fn exchange_on<T: Transport>(at: &str) {
    let server = start_server::<T>(at).await;
    assert_ne!(server.port(), 0);
    let mut client = T::connect(vec![server], quick()).await.expect("connect");
    assert_eq!(client.peer(), server);
    assert_eq!(client.exchange(b"hello").await.expect("reply"), b"HELLO");
    assert_eq!(
        client.exchange("straße".as_bytes()).await.expect("reply"),
        b"STRASSE"
    );
    assert_eq!(client.exchange(b"").await.expect("reply"), b"");
    assert_eq!(
        client.exchange(b"\xff\xfeok").await.expect("reply"),
        b"\xff\xfeOK"
    );
}

#[tokio::test]
async fn tcp_exchanges_over_ipv4() {
    exchange_on::<Tcp>(V4).await;
}

#[tokio::test]
async fn tcp_exchanges_over_ipv6() {
    exchange_on::<Tcp>(V6).await;
}

#[tokio::test]
async fn udp_exchanges_over_ipv4() {
    exchange_on::<Udp>(V4).await;
}

#[tokio::test]
async fn udp_exchanges_over_ipv6() {
    exchange_on::<Udp>(V6).await;
}

#[tokio::test]
async fn an_ipv4_connection_to_a_dual_stack_listener_has_an_ipv4_address() {
    let mut listener = Tcp::bind(addr("[::]:0")).await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let client = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect over IPv4");
    let peer = listener.accept().await.expect("accept");
    assert_eq!(peer.addr(), client.local_addr().expect("address"));
    assert!(peer.addr().is_ipv4(), "{}", peer.addr());
}

#[tokio::test]
async fn unspecified_ipv6_listens_dual_stack() {
    for_each_transport_dual_stack::<Tcp>().await;
    for_each_transport_dual_stack::<Udp>().await;
}

async fn for_each_transport_dual_stack<T: Transport>() {
    let server = start_server::<T>("[::]:0").await;
    let v4 = SocketAddr::new(addr(V4).ip(), server.port());
    let mut client = T::connect(vec![v4], quick())
        .await
        .expect("connect over IPv4");
    assert_eq!(client.exchange(b"both").await.expect("reply"), b"BOTH");
}

#[tokio::test]
async fn udp_carries_the_largest_datagrams_whole() {
    for (at, max) in [(V4, 65_507), (V6, 65_527)] {
        let server = start_server::<Udp>(at).await;
        let mut client = Udp::connect(vec![server], quick()).await.expect("connect");
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
    let mut listener = Udp::bind(addr(V4)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    let client = UdpSocket::bind(V4).await.expect("client socket");
    // 30,000 × ΐ is 60,000 bytes; upper-cased, 180,000.
    client
        .send_to("ΐ".repeat(30_000).as_bytes(), server)
        .await
        .expect("send");
    let peer = listener.accept().await.expect("datagram");
    assert_eq!(peer.addr(), client.local_addr().expect("address"));
    match serve_peer(peer).await {
        Err(TransportError::ReplyTooLarge { len, max, .. }) => {
            assert_eq!((len, max), (180_000, 65_507))
        }
        other => panic!("expected ReplyTooLarge, got {other:?}"),
    }
    let mut buf = [0; 16];
    let nothing =
        tokio::time::timeout(Duration::from_millis(100), client.recv_from(&mut buf)).await;
    assert!(nothing.is_err(), "no partial reply may be sent");
}

#[tokio::test]
async fn udp_peer_is_one_chunk_then_end() {
    let mut listener = Udp::bind(addr(V6)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    let client = UdpSocket::bind(V6).await.expect("client socket");
    client.send_to(b"one datagram", server).await.expect("send");
    let mut peer = listener.accept().await.expect("datagram");
    assert_eq!(peer.read().await.expect("read"), b"one datagram");
    assert_eq!(peer.read().await.expect("read"), b"");
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
    let mut client = Udp::connect(vec![server_addr], quick())
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
    let mut client = Udp::connect(vec![silent_addr], options)
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

/// A port on `at` with nothing bound to it (bound, then freed).
async fn closed_port(at: &str) -> SocketAddr {
    UdpSocket::bind(at)
        .await
        .expect("bind")
        .local_addr()
        .expect("address")
}

#[tokio::test]
async fn udp_port_unreachable_is_final_for_that_address() {
    let closed = closed_port(V4).await;
    let mut client = Udp::connect(vec![closed], quick()).await.expect("connect");
    match client.exchange(b"hello").await {
        Err(TransportError::Refused(at)) => assert_eq!(at, closed),
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn every_resolved_address_is_tried() {
    let closed = closed_port(V6).await;
    let udp_server = start_server::<Udp>(V4).await;
    let mut client = Udp::connect(vec![closed, udp_server], quick())
        .await
        .expect("connect");
    assert_eq!(client.exchange(b"second").await.expect("reply"), b"SECOND");
    assert_eq!(client.peer(), udp_server);

    let closed = tokio::net::TcpListener::bind(V6)
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let tcp_server = start_server::<Tcp>(V4).await;
    let mut client = Tcp::connect(vec![closed, tcp_server], quick())
        .await
        .expect("connect");
    assert_eq!(client.exchange(b"second").await.expect("reply"), b"SECOND");
    assert_eq!(client.peer(), tcp_server);
}

#[tokio::test]
async fn tcp_connect_failure_names_every_address() {
    let a = tokio::net::TcpListener::bind(V4)
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let b = tokio::net::TcpListener::bind(V6)
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let error = Tcp::connect(vec![a, b], quick())
        .await
        .expect_err("nothing listens");
    assert_eq!(
        error.to_string(),
        format!("cannot connect over tcp to {a} (connection refused), {b} (connection refused)")
    );
}

#[tokio::test]
async fn bind_failure_says_where_and_why() {
    let taken = start_server::<Tcp>(V4).await;
    let error = Tcp::bind(taken).await.expect_err("port in use");
    assert_eq!(
        error.to_string(),
        format!("cannot listen on tcp {taken}: address already in use")
    );
}

#[tokio::test]
async fn tcp_pipe_streams_both_ways_at_once() {
    let server = start_server::<Tcp>(V6).await;
    let mut client = Tcp::connect(vec![server], quick()).await.expect("connect");
    // Far more than the socket buffers hold: sending all before reading would deadlock.
    let input: Vec<u8> = b"abc\xce\x90xyz\n"
        .iter()
        .copied()
        .cycle()
        .take(16 << 20)
        .collect();
    let mut output = Vec::new();
    client.pipe(&input[..], &mut output).await.expect("pipe");
    let mut expected = Vec::new();
    Transformer::new(Builtin::Upper)
        .datagram(&input, &mut expected)
        .expect("no line limit");
    assert_eq!(output.len(), expected.len());
    assert!(output == expected);
}

#[tokio::test]
async fn udp_pipe_sends_each_line_and_prints_each_reply() {
    let server = start_server::<Udp>(V4).await;
    let mut client = Udp::connect(vec![server], quick()).await.expect("connect");
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
    let mut client = Udp::connect(vec![server], quick()).await.expect("connect");
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

#[tokio::test]
async fn tcp_reuses_the_connect_connection_only_while_fresh() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(V4).await.expect("bind");
    let server = listener.local_addr().expect("address");
    // Answers each connection with the number of connections accepted so far.
    tokio::spawn(async move {
        let mut accepted = 0u8;
        while let Ok((mut stream, _)) = listener.accept().await {
            accepted += 1;
            tokio::spawn(async move {
                let mut request = Vec::new();
                if stream.read_to_end(&mut request).await.is_ok() {
                    let _ = stream.write_all(&[b'0' + accepted]).await;
                }
            });
        }
    });
    let options = ClientOptions {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..ClientOptions::default()
    };
    let mut client = Tcp::connect(vec![server], options).await.expect("connect");
    assert_eq!(
        client.exchange(b"now").await.expect("reply"),
        b"1",
        "the connect connection"
    );
    assert_eq!(
        client.exchange(b"again").await.expect("reply"),
        b"2",
        "a new connection"
    );

    let mut client = Tcp::connect(vec![server], options).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        client.exchange(b"later").await.expect("reply"),
        b"4",
        "stale one replaced"
    );
}

/// Everything `peer` reads until the client's end of stream, chunk by chunk.
async fn read_all<P: Peer>(peer: &mut P) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), peer.read())
            .await
            .expect("a read ends in time")
            .expect("read");
        if chunk.is_empty() {
            return all;
        }
        all.extend_from_slice(chunk);
    }
}

#[tokio::test]
async fn tcp_first_read_takes_what_came_before_the_accept_or_waits_for_it() {
    use tokio::io::AsyncWriteExt;
    for at in [V4, V6] {
        let mut listener = Tcp::bind(addr(at)).await.expect("bind on loopback");
        let server = listener.local_addr().expect("address");

        // Sent, more than one read's worth, and finished before the server accepts.
        let sent: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        client.write_all(&sent).await.expect("send");
        client.shutdown().await.expect("half-close");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut peer = listener.accept().await.expect("accept");
        assert_eq!(read_all(&mut peer).await, sent, "everything sent early");

        // Sent only after the server is already reading.
        let mut client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        let mut peer = listener.accept().await.expect("accept");
        let late = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            client.write_all(b"late").await.expect("send");
            client.shutdown().await.expect("half-close");
            client
        });
        assert_eq!(read_all(&mut peer).await, b"late", "what came later");
        drop(late.await.expect("client"));

        // Closed without a word.
        let client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        drop(client);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut peer = listener.accept().await.expect("accept");
        assert_eq!(read_all(&mut peer).await, b"", "nothing, then the end");
    }
}

/// The next datagram `client` receives, and its source; fails with `what` (the reply awaited)
/// if none comes within 10 s.
async fn next_reply(client: &UdpSocket, what: &str) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65_536];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), client.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .expect("receive");
    buf.truncate(n);
    (buf, from)
}

/// Serves datagrams in place, one after another, as the server crate does.
async fn serve_in_place(mut listener: <Udp as Transport>::Listener) {
    while let Ok(peer) = listener.accept().await {
        let _ = serve_peer(peer).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_answers_each_datagram_of_a_burst_once() {
    let listener = Udp::bind(addr(V4)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    tokio::spawn(serve_in_place(listener));
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
        let listener = Udp::bind(addr(at)).await.expect("bind");
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
        tokio::time::sleep(Duration::from_millis(50)).await;
        let serving = tokio::spawn(serve_in_place(listener));
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
async fn a_reply_waiting_for_its_batch_goes_when_the_rest_is_dropped_unanswered() {
    let mut listener = Udp::bind(addr(V6)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    let client = UdpSocket::bind(V6).await.expect("client socket");
    client.send_to(b"answer me", server).await.expect("send");
    client.send_to(b"refuse me", server).await.expect("send");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let first = listener.accept().await.expect("first datagram");
    serve_peer(first).await.expect("served");
    // The second was taken in the same batch; a server that refuses it drops it.
    drop(listener.accept().await.expect("second datagram"));
    tokio::spawn(serve_in_place(listener));
    let (reply, _) = next_reply(&client, "the first datagram is answered").await;
    assert_eq!(reply, b"ANSWER ME");
}

#[tokio::test]
async fn replies_waiting_for_their_batch_go_when_the_listener_is_dropped() {
    let mut listener = Udp::bind(addr(V4)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    let client = UdpSocket::bind(V4).await.expect("client socket");
    client.send_to(b"one", server).await.expect("send");
    client.send_to(b"two", server).await.expect("send");
    tokio::time::sleep(Duration::from_millis(50)).await;
    serve_peer(listener.accept().await.expect("first"))
        .await
        .expect("served");
    drop(listener);
    let (reply, _) = next_reply(&client, "the reply is sent as the socket closes").await;
    assert_eq!(reply, b"ONE");
}

#[tokio::test]
async fn a_udp_reply_may_be_written_in_borrowed_and_owned_parts() {
    let mut listener = Udp::bind(addr(V4)).await.expect("bind");
    let server = listener.local_addr().expect("address");
    let client = UdpSocket::bind(V4).await.expect("client socket");
    client.send_to(b"x", server).await.expect("send");
    let mut peer = listener.accept().await.expect("datagram");
    peer.write(b"borrowed ").await.expect("write");
    peer.write_owned(b"owned".to_vec()).await.expect("write");
    peer.close().await.expect("send the reply");
    let (reply, _) = next_reply(&client, "a reply").await;
    assert_eq!(reply, b"borrowed owned");
}

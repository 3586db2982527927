//! TCP, both sides, over real sockets on 127.0.0.1 and ::1.

mod common;

use std::time::Duration;

use common::{V4, V6, addr, quick, start_server};
use upcase_proto::{Builtin, Transformer};
use upcase_transport::{
    Client, ClientOptions, Incoming, Listener, Peer, ServerSocket, Tcp, Transport,
};

#[tokio::test]
async fn an_ipv4_connection_to_a_dual_stack_listener_has_an_ipv4_address() {
    let mut listener = Tcp.bind(addr("[::]:0")).await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let client = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect over IPv4");
    let peer = listener
        .accept()
        .await
        .expect("accept")
        .start()
        .await
        .expect("start");
    assert_eq!(peer.addr(), client.local_addr().expect("address"));
    assert!(peer.addr().is_ipv4(), "{}", peer.addr());
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
    let error = Tcp
        .connect(vec![a, b], quick())
        .await
        .expect_err("nothing listens");
    assert_eq!(
        error.to_string(),
        format!("cannot connect over tcp to {a} (connection refused), {b} (connection refused)")
    );
}

#[tokio::test]
async fn tcp_pipe_streams_both_ways_at_once() {
    let server = start_server::<Tcp>(V6).await;
    let mut client = Tcp.connect(vec![server], quick()).await.expect("connect");
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
    let mut client = Tcp.connect(vec![server], options).await.expect("connect");
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

    let mut client = Tcp.connect(vec![server], options).await.expect("connect");
    // A fixed wait, past the timeout, to show that the stale connection is not used.
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
        let mut listener = Tcp.bind(addr(at)).await.expect("bind on loopback");
        let server = listener.local_addr().expect("address");

        // Sent, more than one read's worth, and finished before the server accepts.
        let sent: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let mut client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        client.write_all(&sent).await.expect("send");
        // On loopback the bytes and the end are in the server's queue once these return.
        client.shutdown().await.expect("half-close");
        let mut peer = listener
            .accept()
            .await
            .expect("accept")
            .start()
            .await
            .expect("start");
        assert_eq!(read_all(&mut peer).await, sent, "everything sent early");

        // Sent only after the server is already reading.
        let mut client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        let mut peer = listener
            .accept()
            .await
            .expect("accept")
            .start()
            .await
            .expect("start");
        let read = read_all(&mut peer);
        tokio::pin!(read);
        tokio::select! {
            biased;
            _ = &mut read => panic!("nothing was sent yet"),
            () = std::future::ready(()) => {}
        }
        // The server is reading, and waits: now the client sends.
        client.write_all(b"late").await.expect("send");
        client.shutdown().await.expect("half-close");
        assert_eq!(read.await, b"late", "what came later");

        // Closed without a word.
        let client = tokio::net::TcpStream::connect(server)
            .await
            .expect("connect");
        drop(client);
        let mut peer = listener
            .accept()
            .await
            .expect("accept")
            .start()
            .await
            .expect("start");
        assert_eq!(read_all(&mut peer).await, b"", "nothing, then the end");
    }
}

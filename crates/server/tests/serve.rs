//! The serving loop, over real loopback sockets, driven through `run`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upcase_proto::Builtin;
use upcase_server::{Options, run};
use upcase_transport::{Listener, Tcp, Transport, Udp};

/// A running server: its address, the switch that stops it, and its task.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    /// Stops the server and waits for `run` to return.
    async fn shut_down(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run does not panic");
    }
}

/// Binds `T` on `at` (port 0) and runs the server on a task.
async fn start_server<T: Transport>(at: &str, transform: &str, options: Options) -> Server {
    let listener = T::bind(at.parse().expect("address")).await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let transform: Builtin = transform.parse().expect("transform");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run(listener, transform, options, stopped));
    Server { addr, stop, task }
}

async fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut buf))
        .await
        .expect("reply in time")
        .expect("reply");
    buf
}

#[tokio::test]
async fn tcp_answers_without_waiting_for_newline_or_close() {
    let server = start_server::<Tcp>("127.0.0.1:0", "upper", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"hello world").await.expect("send");
    assert_eq!(read_exactly(&mut client, 11).await, b"HELLO WORLD");
    // The same connection carries more messages.
    client.write_all("straße\n".as_bytes()).await.expect("send");
    assert_eq!(read_exactly(&mut client, 8).await, b"STRASSE\n");
    server.shut_down().await;
}

#[tokio::test]
async fn tcp_joins_a_character_split_between_packets() {
    let server = start_server::<Tcp>("[::1]:0", "upper", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.set_nodelay(true).expect("nodelay");
    client.write_all(b"a\xc3").await.expect("send");
    assert_eq!(read_exactly(&mut client, 1).await, b"A");
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.write_all(b"\x9f").await.expect("send");
    assert_eq!(read_exactly(&mut client, 2).await, b"SS");
    server.shut_down().await;
}

#[tokio::test]
async fn tcp_half_close_gets_everything_owed_then_close() {
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"mississippi\nsasss").await.expect("send");
    client.shutdown().await.expect("half-close");
    let mut reply = Vec::new();
    client
        .read_to_end(&mut reply)
        .await
        .expect("reply until close");
    assert_eq!(reply, b"4\n4\n");
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
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
            .await
            .expect("reply in time")
            .expect("reply");
        assert_eq!((&buf[..n], from), (expected, server.addr));
    }
    server.shut_down().await;
}

#[tokio::test]
async fn udp_keeps_serving_after_a_reply_too_large() {
    let server = start_server::<Udp>("127.0.0.1:0", "upper", Options::default()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    client
        .send_to("ΐ".repeat(30_000).as_bytes(), server.addr)
        .await
        .expect("send");
    client
        .send_to(b"still here", server.addr)
        .await
        .expect("send");
    let mut buf = vec![0; 65_536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("reply in time")
        .expect("reply");
    assert_eq!(
        &buf[..n],
        b"STILL HERE",
        "the oversized reply is dropped, not truncated"
    );
    server.shut_down().await;
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
    server.shut_down().await;
}

#[tokio::test]
async fn shutdown_answers_what_was_received_then_closes() {
    let server = start_server::<Tcp>("127.0.0.1:0", "count=s", Options::default()).await;
    let mut client = TcpStream::connect(server.addr).await.expect("connect");
    client.write_all(b"ss\nsss").await.expect("send");
    assert_eq!(read_exactly(&mut client, 2).await, b"2\n");
    let addr = server.addr;
    server.shut_down().await;
    // The unfinished line was answered as at the end of a stream, then the connection closed.
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.expect("clean close");
    assert_eq!(rest, b"3\n");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
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
    server.shut_down().await;
}

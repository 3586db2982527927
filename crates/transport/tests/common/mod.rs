//! Helpers for the transport's tests: loopback addresses, quick client options, and servers that
//! answer the textbook's protocol the way the server crate does.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use upcase_proto::{Builtin, Transformer};
use upcase_transport::{
    Answer, ClientOptions, Incoming, Listener, Peer, ServerSocket, TcpListener, Transport,
    TransportError, UdpServer,
};

pub const V4: &str = "127.0.0.1:0";
pub const V6: &str = "[::1]:0";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a literal address")
}

pub fn quick() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(200),
        retries: 2,
        ..ClientOptions::default()
    }
}

/// Serves one connection the way the server crate does: transform each chunk as it comes.
pub async fn serve_peer<P: Peer>(mut peer: P) -> Result<(), TransportError> {
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

/// A datagram's reply the way the server crate makes it, without its limits.
pub fn upper(request: &[u8]) -> Vec<u8> {
    let mut reply = Vec::new();
    Transformer::new(Builtin::Upper)
        .datagram(request, &mut reply)
        .expect("no line limit");
    reply
}

/// Serves every datagram of `server`, batch by batch, until a receive fails.
pub async fn serve_datagrams(mut server: UdpServer) {
    while server
        .answer_batch(|datagram| Answer::Reply(upper(datagram.payload)))
        .await
        .is_ok()
    {}
}

/// A server socket these tests know how to serve in the background.
pub trait Serving: ServerSocket + Sized {
    fn spawn_serving(self);
}

impl Serving for TcpListener {
    fn spawn_serving(mut self) {
        tokio::spawn(async move {
            while let Ok(incoming) = self.accept().await {
                tokio::spawn(async move {
                    let peer = incoming.start().await?;
                    serve_peer(peer).await
                });
            }
        });
    }
}

impl Serving for UdpServer {
    fn spawn_serving(self) {
        tokio::spawn(serve_datagrams(self));
    }
}

/// Binds `at` (port 0) and serves every client in the background; returns the bound address.
pub async fn start_server<T: Transport + Default>(at: &str) -> SocketAddr
where
    T::Server: Serving,
{
    let server = T::default().bind(addr(at)).await.expect("bind on loopback");
    let local = server.local_addr().expect("local address");
    server.spawn_serving();
    local
}

/// The next datagram `client` receives, and its source; fails with `what` (the reply awaited)
/// if none comes within 10 s.
pub async fn next_reply(client: &UdpSocket, what: &str) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 65_536];
    let (n, from) = tokio::time::timeout(Duration::from_secs(10), client.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{what}"))
        .expect("receive");
    buf.truncate(n);
    (buf, from)
}

/// A port on `at` with nothing bound to it (bound, then freed).
pub async fn closed_port(at: &str) -> SocketAddr {
    UdpSocket::bind(at)
        .await
        .expect("bind")
        .local_addr()
        .expect("address")
}

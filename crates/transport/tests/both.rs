//! What both transports do alike, over real sockets on 127.0.0.1 and ::1.

mod common;

use std::net::SocketAddr;

use common::{Serving, V4, V6, addr, closed_port, quick, start_server};
use upcase_transport::{Client, Tcp, Transport, Udp};

async fn exchange_on<T: Transport + Default>(at: &str)
where
    T::Server: Serving,
{
    let server = start_server::<T>(at).await;
    assert_ne!(server.port(), 0);
    let mut client = T::default()
        .connect(vec![server], quick())
        .await
        .expect("connect");
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
async fn unspecified_ipv6_listens_dual_stack() {
    for_each_transport_dual_stack::<Tcp>().await;
    for_each_transport_dual_stack::<Udp>().await;
}

async fn for_each_transport_dual_stack<T: Transport + Default>()
where
    T::Server: Serving,
{
    let server = start_server::<T>("[::]:0").await;
    let v4 = SocketAddr::new(addr(V4).ip(), server.port());
    let mut client = T::default()
        .connect(vec![v4], quick())
        .await
        .expect("connect over IPv4");
    assert_eq!(client.exchange(b"both").await.expect("reply"), b"BOTH");
}

#[tokio::test]
async fn every_resolved_address_is_tried() {
    let closed = closed_port(V6).await;
    let udp_server = start_server::<Udp>(V4).await;
    let mut client = Udp
        .connect(vec![closed, udp_server], quick())
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
    let mut client = Tcp
        .connect(vec![closed, tcp_server], quick())
        .await
        .expect("connect");
    assert_eq!(client.exchange(b"second").await.expect("reply"), b"SECOND");
    assert_eq!(client.peer(), tcp_server);
}

#[tokio::test]
async fn bind_failure_says_where_and_why() {
    let taken = start_server::<Tcp>(V4).await;
    let error = Tcp.bind(taken).await.expect_err("port in use");
    assert_eq!(
        error.to_string(),
        format!("cannot listen on tcp {taken}: address already in use")
    );
}

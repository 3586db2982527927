//! The step between the textbook's servers and upcase's: one tokio program that serves UDP and
//! TCP at once, each TCP connection on a task of its own, with the workspace's crates doing
//! what the book's `message.decode().upper()` left out — `upcase-transport` for the sockets,
//! `upcase-proto` for upper case across chunks. No limits, no drain, no metrics: those are what
//! the real server (`crates/server`, docs/TOUR.md from step 4) adds to this shape.
//!
//! ```text
//! cargo run --example tokio_server          # port 12000, or: cargo run --example tokio_server -- 0
//! cargo run -- client --udp "hello"         # HELLO
//! cargo run -- client --tcp "straße"        # STRASSE
//! ```

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};

use upcase_proto::{Transformer, Upper};
use upcase_transport::{Answer, Incoming, Listener, Peer, ServerSocket, Tcp, Transport, Udp};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port.parse().map_err(|_| format!("`{port}` is no port"))?,
        None => 12000,
    };
    let mut tcp = Tcp
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await?;
    let mut udp = Udp.bind(tcp.local_addr()?).await?;
    println!("listening on udp {}", udp.local_addr()?);
    println!("listening on tcp {}", tcp.local_addr()?);

    // UDPServer.py's loop, a batch of datagrams at a time: each payload in, its reply out.
    tokio::spawn(async move {
        while udp
            .answer_batch(|datagram| {
                let mut reply = Vec::new();
                match Transformer::new(Upper).datagram(datagram.payload, &mut reply) {
                    Ok(()) => Answer::Reply(reply),
                    // A line longer than the limit gets no reply.
                    Err(_) => Answer::Silence,
                }
            })
            .await
            .is_ok()
        {}
    });

    // TCPServer.py's loop, with each connection on a task of its own, so none waits for another.
    loop {
        let incoming = tcp.accept().await?;
        tokio::spawn(async move {
            if let Ok(peer) = incoming.start().await {
                let _ = serve(peer).await;
            }
        });
    }
}

/// One connection: each chunk answered as it comes (a character split between chunks waits for
/// its last byte), to the client's end of stream; then the server closes its side.
async fn serve(mut peer: impl Peer) -> Result<(), Box<dyn Error>> {
    let mut upper = Transformer::new(Upper);
    let mut reply = Vec::new();
    loop {
        let chunk = peer.read().await?;
        reply.clear();
        if chunk.is_empty() {
            upper.finish(&mut reply);
            peer.write(&reply).await?;
            peer.close().await?;
            return Ok(());
        }
        upper.feed(chunk, &mut reply)?;
        peer.write(&reply).await?;
    }
}

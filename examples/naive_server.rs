//! The naive tokio capitalization server, as most would first write it: a task per connection
//! with a 16 KiB buffer, read, upper-case, write; one UDP socket with `recv_from` and
//! `send_to`. ASCII only. It is a peer for `scripts/bench.py` to measure upcase against, not a
//! model: it has no limits, no shutdown and no Unicode.
//!
//! ```text
//! cargo run --release --example naive_server -- 12000
//! ```

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(port) => port
            .parse()
            .map_err(|_| format!("`{port}` is not a port number"))?,
        None => 12000,
    };
    let tcp = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    let at = tcp.local_addr()?;
    let udp = UdpSocket::bind(at).await?;
    println!("listening on udp {at}");
    println!("listening on tcp {at}");

    tokio::spawn(async move {
        let mut buf = vec![0; 65_536];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            buf[..n].make_ascii_uppercase();
            let _ = udp.send_to(&buf[..n], from).await;
        }
    });
    loop {
        let (mut stream, _) = tcp.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0; 16 * 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                buf[..n].make_ascii_uppercase();
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

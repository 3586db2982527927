//! An upcase server with a transform of its own: ROT13, served over TCP and UDP on loopback.
//! It shows the crates used as a library: a [`Transform`] from `upcase-proto`, sockets from
//! `upcase-transport`, and the serving loop `run` from `upcase-server`.
//!
//! Run it in one terminal:
//!
//! ```text
//! cargo run --example rot13_server        # or: cargo run --example rot13_server -- 0
//! ```
//!
//! and talk to it from another, with upcase's own client or the textbook's:
//!
//! ```text
//! cargo run -- client --port 12013 "Hello, World"        # Uryyb, Jbeyq
//! cargo run -- client --udp --port 12013 "Uryyb, Jbeyq"  # Hello, World
//! ```

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};

use upcase_proto::Transform;
use upcase_server::{Options, run};
use upcase_transport::{ServerSocket, Tcp, Transport, Udp};

/// Rotates ASCII letters by 13 places; everything else, Unicode included, passes unchanged.
/// A character transform needs no state: each piece of text maps on its own.
#[derive(Debug, Clone, Copy)]
struct Rot13;

impl Transform for Rot13 {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        out.extend(text.bytes().map(|b| match b {
            b'a'..=b'z' => b'a' + (b - b'a' + 13) % 26,
            b'A'..=b'Z' => b'A' + (b - b'A' + 13) % 26,
            _ => b,
        }));
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let port = match std::env::args().nth(1) {
        Some(port) => port
            .parse()
            .map_err(|_| format!("`{port}` is not a port number"))?,
        None => 12013,
    };
    let tcp = Tcp
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .await?;
    let at = tcp.local_addr()?;
    let udp = Udp.bind(at).await?;
    println!("listening on udp {}", udp.local_addr()?);
    println!("listening on tcp {at}");

    let ctrl_c = || async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::join!(
        run(tcp, Rot13, Options::default(), ctrl_c()),
        run(udp, Rot13, Options::default(), ctrl_c()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use upcase_proto::check_growth;

    /// `cargo test --example rot13_server`, run with the workspace's tests (`test = true`).
    #[test]
    fn rot13_keeps_to_the_growth_bound_every_transform_keeps_to() {
        let input = "Hello, World\n ΐ straße \u{ff} ".repeat(50);
        for chunk in [1, 2, 3, 64, input.len()] {
            assert_eq!(check_growth(&super::Rot13, input.as_bytes(), chunk), Ok(()));
        }
    }
}

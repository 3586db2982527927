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

use upcase_server::{Options, run};
use upcase_transport::{ServerSocket, Tcp, Transport, Udp};

#[path = "transforms/rot13.rs"]
mod rot13;
use rot13::Rot13;

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

//! The floor under every TLS figure: what rustls itself costs on this machine, with no socket,
//! no runtime and no system call, a client and a server joined by buffers in memory (the way
//! rustls's own report measures it). Only the server's side is timed, the part a server pays.
//!
//!     cargo run --release -p upcase-transport --example tls_floor -- CERT KEY [SECONDS]
//!
//! prints one JSON object: the server's microseconds per full TLS 1.3 handshake and per resumed
//! one, per 64-byte request answered on an open connection, and its GiB/s sealing 16 KiB
//! records, with the provider, key exchange and cipher suite upcase's own configuration uses.

use std::error::Error;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

/// The provider as upcase configures it: ring, X25519 first.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    Arc::new(provider)
}

fn configs(cert: &str, key: &str, resume: bool) -> Result<(Arc<ServerConfig>, Arc<ClientConfig>)> {
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cert)?.collect::<std::result::Result<_, _>>()?;
    let mut roots = RootCertStore::empty();
    roots.add(chain[0].clone())?;
    let mut server = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::from_pem_file(key)?)?;
    server.alpn_protocols = vec![b"upcase".to_vec()];
    server.ticketer = rustls::crypto::ring::Ticketer::new()?;
    let mut client = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"upcase".to_vec()];
    if !resume {
        client.resumption = rustls::client::Resumption::disabled();
    }
    Ok((Arc::new(server), Arc::new(client)))
}

/// A client and a server connection, and the time the server's side has taken.
struct Pair {
    client: ClientConnection,
    server: ServerConnection,
    wire: Vec<u8>,
    server_time: Duration,
}

impl Pair {
    fn new(server: &Arc<ServerConfig>, client: &Arc<ClientConfig>) -> Result<Self> {
        let name = ServerName::try_from("localhost")?;
        let started = Instant::now();
        let server = ServerConnection::new(Arc::clone(server))?;
        let server_time = started.elapsed();
        Ok(Self {
            client: ClientConnection::new(Arc::clone(client), name)?,
            server,
            wire: Vec::with_capacity(64 * 1024),
            server_time,
        })
    }

    /// Moves the client's records to the server: whether there were any.
    fn client_sends(&mut self) -> Result<bool> {
        self.wire.clear();
        while self.client.wants_write() {
            self.client.write_tls(&mut self.wire)?;
        }
        let started = Instant::now();
        let mut records = &self.wire[..];
        while !records.is_empty() {
            self.server.read_tls(&mut records)?;
            self.server.process_new_packets()?;
        }
        self.server_time += started.elapsed();
        Ok(!self.wire.is_empty())
    }

    /// Moves the server's records to the client: whether there were any.
    fn server_sends(&mut self) -> Result<bool> {
        self.wire.clear();
        let started = Instant::now();
        while self.server.wants_write() {
            self.server.write_tls(&mut self.wire)?;
        }
        self.server_time += started.elapsed();
        let mut records = &self.wire[..];
        while !records.is_empty() {
            self.client.read_tls(&mut records)?;
            self.client.process_new_packets()?;
        }
        Ok(!self.wire.is_empty())
    }

    /// Until neither side has anything to send: the handshake, and the tickets after it.
    fn settle(&mut self) -> Result<()> {
        while self.client_sends()? | self.server_sends()? {}
        Ok(())
    }
}

/// The server's time per handshake, over handshakes made for `seconds`.
fn handshakes(
    server: &Arc<ServerConfig>,
    client: &Arc<ClientConfig>,
    seconds: f64,
) -> Result<(f64, bool)> {
    // One first, so that a resuming client holds a ticket.
    Pair::new(server, client)?.settle()?;
    let (mut spent, mut count, mut resumed) = (Duration::ZERO, 0u32, true);
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        let mut pair = Pair::new(server, client)?;
        pair.settle()?;
        resumed &= pair.client.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
        spent += pair.server_time;
        count += 1;
    }
    Ok((spent.as_secs_f64() * 1e6 / f64::from(count), resumed))
}

/// The server's time per 64-byte request read and answered on an open connection.
fn replies(pair: &mut Pair, seconds: f64) -> Result<f64> {
    let (request, mut got) = ([b'a'; 64], [0u8; 64]);
    pair.server_time = Duration::ZERO;
    let (mut count, until) = (0u32, Instant::now() + Duration::from_secs_f64(seconds));
    while Instant::now() < until {
        pair.client.writer().write_all(&request)?;
        pair.client_sends()?;
        let started = Instant::now();
        pair.server.reader().read_exact(&mut got)?;
        got.make_ascii_uppercase();
        pair.server.writer().write_all(&got)?;
        pair.server_time += started.elapsed();
        pair.server_sends()?;
        pair.client.reader().read_exact(&mut got)?;
        count += 1;
    }
    Ok(pair.server_time.as_secs_f64() * 1e6 / f64::from(count))
}

/// The server's GiB/s sealing 16 KiB records (what a large reply costs it).
fn sealing(pair: &mut Pair, seconds: f64) -> Result<f64> {
    let block = vec![b'A'; 16 * 1024];
    let mut sink = vec![0u8; 16 * 1024];
    pair.server_time = Duration::ZERO;
    let (mut bytes, until) = (0u64, Instant::now() + Duration::from_secs_f64(seconds));
    while Instant::now() < until {
        let started = Instant::now();
        pair.server.writer().write_all(&block)?;
        pair.server_time += started.elapsed();
        pair.server_sends()?;
        pair.client.reader().read_exact(&mut sink)?;
        bytes += block.len() as u64;
    }
    Ok(bytes as f64 / f64::from(1u32 << 30) / pair.server_time.as_secs_f64())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cert, key, rest @ ..] = &args[..] else {
        return Err("usage: tls_floor CERT KEY [SECONDS]".into());
    };
    let seconds: f64 = rest.first().map_or(Ok(2.0), |s| s.parse())?;
    let (server, full_client) = configs(cert, key, false)?;
    let (_, resuming_client) = configs(cert, key, true)?;
    let (full_us, _) = handshakes(&server, &full_client, seconds)?;
    let (resumed_us, all_resumed) = handshakes(&server, &resuming_client, seconds)?;
    let mut pair = Pair::new(&server, &full_client)?;
    pair.settle()?;
    let suite = pair
        .server
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .unwrap_or("unknown");
    let group = pair.server.negotiated_key_exchange_group().map_or_else(
        || "unknown".to_owned(),
        |group| format!("{:?}", group.name()),
    );
    let reply_us = replies(&mut pair, seconds)?;
    let gib_s = sealing(&mut pair, seconds)?;
    println!(
        "{{\"full_handshake_us\":{full_us:.2},\"resumed_handshake_us\":{resumed_us:.2},\
         \"all_resumed\":{all_resumed},\"reply_64_us\":{reply_us:.3},\"seal_gib_s\":{gib_s:.3},\
         \"cipher\":\"{suite}\",\"key_exchange\":\"{group}\"}}"
    );
    Ok(())
}

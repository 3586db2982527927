//! The naive QUIC capitalization server, as quinn's documentation leads one to write it: a
//! task per connection and a task per stream with a 16 KiB buffer, read, upper-case, write,
//! finish. ASCII only. It is a peer for `scripts/quic_bench.py` to measure upcase's QUIC
//! against (the "naive tokio" of QUIC), not a model: it has no limits and no shutdown.
//!
//! ```text
//! cargo run --release --example naive_quic_server -- 12443 cert.pem key.pem
//! ```

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use quinn::crypto::rustls::QuicServerConfig;
use quinn::{Endpoint, ServerConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, cert, key] = &args[..] else {
        return Err("usage: naive_quic_server PORT CERT KEY".into());
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port.parse::<u16>()?));
    let endpoint = Endpoint::server(config(cert, key)?, addr)?;
    println!("listening on quic {}", endpoint.local_addr()?);
    while let Some(incoming) = endpoint.accept().await {
        tokio::spawn(async move {
            let Ok(connection) = incoming.await else {
                return;
            };
            while let Ok((mut send, mut recv)) = connection.accept_bi().await {
                tokio::spawn(async move {
                    let mut buf = vec![0; 16 * 1024];
                    while let Ok(Some(n)) = recv.read(&mut buf).await {
                        buf[..n].make_ascii_uppercase();
                        if send.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                    let _ = send.finish();
                });
            }
        });
    }
    Ok(())
}

/// TLS 1.3 with the certificate in `cert` and its key, ALPN `upcase`, and the same provider
/// and key exchanges as upcase's, so that the two are measured doing the same work.
#[allow(deprecated)] // rustls steers toward aws-lc-rs; this workspace builds ring alone.
fn config(cert: &str, key: &str) -> Result<ServerConfig, Box<dyn Error>> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    let chain = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let mut crypto = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(chain, PrivateKeyDer::from_pem_file(key)?)?;
    crypto.alpn_protocols = vec![b"upcase".to_vec()];
    Ok(ServerConfig::with_crypto(Arc::new(
        QuicServerConfig::try_from(crypto)?,
    )))
}

//! QUIC clients that send and never read: each connection's replies wait in the server, so
//! what the server holds for them must stay bounded, as TCP's does by the kernel's buffers and
//! `--buffer-budget`; a client that reads is served meanwhile.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::quic::{client, quic_server, setup};

/// Connections that send and never read.
const HOARDERS: usize = 16;

/// What each of them tries to send.
const EACH: usize = 16 << 20;

/// A quinn client configuration trusting `ca`, ALPN `upcase`.
#[allow(deprecated)] // rustls steers toward aws-lc-rs; the workspace builds ring alone.
fn client_config(ca: &Path) -> quinn::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA") {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut crypto = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    crypto.alpn_protocols = vec![b"upcase".to_vec()];
    quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(crypto).expect("QUIC")))
}

/// Opens `HOARDERS` connections to `port`, each writing up to `EACH` bytes on one stream and
/// reading nothing, until their writes stall; returns them, still open, and what they sent.
async fn hoard(port: u16, ca: &Path) -> (Vec<quinn::Connection>, usize) {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().expect("addr")).expect("endpoint");
    let config = client_config(ca);
    let mut connections = Vec::new();
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..HOARDERS {
        let at = ("127.0.0.1", port);
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&at)
            .expect("addr")
            .next()
            .expect("one");
        let connecting = endpoint
            .connect_with(config.clone(), addr, "localhost")
            .expect("connect");
        let connection = connecting.await.expect("a handshake");
        let (mut send, recv) = connection.open_bi().await.expect("a stream");
        connections.push(connection);
        writers.spawn(async move {
            let block = vec![b'a'; 64 * 1024];
            let mut sent = 0;
            // Writes stall once the server stops reading: stop at the first that waits long.
            while sent < EACH {
                match tokio::time::timeout(Duration::from_secs(2), send.write_all(&block)).await {
                    Ok(Ok(())) => sent += block.len(),
                    _ => break,
                }
            }
            drop(recv);
            sent
        });
    }
    let mut total = 0;
    while let Some(sent) = writers.join_next().await {
        total += sent.expect("a writer");
    }
    (connections, total)
}

#[test]
fn clients_that_send_and_never_read_leave_the_server_bounded() {
    let (_pki, ca, pair) = setup();
    let server = quic_server(&pair, &["--max-connections-per-source", "0"]);
    let port = server.quic().port();
    let before = server.rss_kib();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (connections, sent) = runtime.block_on(hoard(port, &ca));
    let grown = server.rss_kib().saturating_sub(before);
    println!("{HOARDERS} hoarders sent {sent} bytes; the server grew by {grown} KiB");
    assert!(sent < HOARDERS * EACH, "flow control stopped them");
    // Each may leave a stream's window of requests and a connection's window of replies.
    assert!(grown < (HOARDERS as u64) * 4 * 1024, "grew by {grown} KiB");
    client(port, &ca)
        .arg("still served")
        .assert()
        .success()
        .stdout("STILL SERVED\n");
    drop(connections);
}

//! The one crypto provider of every TLS configuration here, and the versions offered.
//!
//! The provider is *ring*: it builds with a C compiler alone (aws-lc-rs, rustls's default,
//! needs CMake or more on some hosts), and has every algorithm TLS 1.3 and 1.2 need here, with
//! ECDSA, Ed25519 and RSA keys.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The versions offered and accepted: 1.3 first.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider of every TLS configuration here, X25519 first among key exchanges.
// rustls marks ring's provider deprecated to steer toward aws-lc-rs's post-quantum key
// exchange; aws-lc-rs needs more than a C compiler to build, which this workspace must not.
#[allow(deprecated)]
pub(crate) fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
    let mut provider = rustls::crypto::ring::default_provider();
    // ring's list puts P-384 first, which ring computes with generic big-number code: a
    // client that offered it first spent five times the CPU on each handshake that X25519
    // costs (docs/BENCHMARKS.md). Peers that offer only the NIST curves still get them.
    provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
    Arc::new(provider)
}

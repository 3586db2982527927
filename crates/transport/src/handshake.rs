//! [`Handshake`]: what a client connection's handshake agreed, for reports.

use std::time::Duration;

/// What a TLS handshake agreed, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// From the TCP connection made to the handshake's end.
    pub took: Duration,
    /// The protocol version: `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    /// The cipher suite, as `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The key exchange's group, as `X25519` or `secp256r1`.
    pub key_exchange: String,
    /// The application protocol agreed by ALPN, if any.
    pub alpn: Option<String>,
    /// Whether the session was resumed rather than a full handshake made.
    pub resumed: bool,
    /// Over QUIC, its version: 1 (RFC 9000).
    pub quic_version: Option<u32>,
}

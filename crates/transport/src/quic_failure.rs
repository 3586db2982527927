//! A failed QUIC handshake by kind and in words: QUIC carries TLS's alerts as its own error
//! codes (0x100 and up), so the kinds are TLS's.

use quinn::ConnectionError;

use crate::tls_failure::{Diagnosis, HandshakeFailure};

/// QUIC's error codes for TLS's alerts start here (RFC 9001 §4.8).
const CRYPTO: u64 = 0x100;

/// QUIC's error code for a server that will not take the connection (RFC 9000 §20.1).
const CONNECTION_REFUSED: u64 = 0x2;

/// The kind of a failed QUIC handshake, and the failure in words.
pub(crate) fn classify(error: &ConnectionError) -> Diagnosis {
    let (failure, detail) = match error {
        ConnectionError::TimedOut => (
            HandshakeFailure::Timeout,
            "no QUIC handshake before the connection timed out".into(),
        ),
        ConnectionError::VersionMismatch => (
            HandshakeFailure::NoCommonProtocol,
            "no QUIC version in common".into(),
        ),
        // Found wrong here: the reason is rustls's own words, its error's text.
        ConnectionError::TransportError(error) => {
            let kind = if error.reason.starts_with("invalid peer certificate") {
                HandshakeFailure::BadCertificate
            } else {
                by_alert(u64::from(error.code), HandshakeFailure::Other)
            };
            (kind, error.reason.clone())
        }
        // The peer refused.
        ConnectionError::ConnectionClosed(close) => {
            let code = u64::from(close.error_code);
            let kind = by_alert(code, HandshakeFailure::PeerAlert);
            (kind, refused(code, kind))
        }
        ConnectionError::ApplicationClosed(_)
        | ConnectionError::Reset
        | ConnectionError::LocallyClosed => (
            HandshakeFailure::Closed,
            "the connection closed during the QUIC handshake".into(),
        ),
        error => (HandshakeFailure::Other, error.to_string()),
    };
    Diagnosis { failure, detail }
}

/// The kind a TLS alert carried in `code` says, else `otherwise`.
fn by_alert(code: u64, otherwise: HandshakeFailure) -> HandshakeFailure {
    match code.checked_sub(CRYPTO) {
        Some(120 | 40 | 70 | 71) => HandshakeFailure::NoCommonProtocol,
        Some(116) => HandshakeFailure::NoClientCertificate,
        Some(42 | 43 | 44 | 45 | 46 | 48 | 49) => HandshakeFailure::BadCertificate,
        _ => otherwise,
    }
}

/// A peer's refusal in words.
fn refused(code: u64, kind: HandshakeFailure) -> String {
    match (code.checked_sub(CRYPTO), kind) {
        (Some(120), _) => "the other side has no application protocol (ALPN) in common; \
                           a QUIC client must offer `upcase`"
            .into(),
        (Some(116), _) => "the server requires a client certificate (--cert and --key)".into(),
        (None, _) if code == CONNECTION_REFUSED => {
            "the server refused the connection (it is full, or does not serve this address)".into()
        }
        (_, HandshakeFailure::BadCertificate) => {
            "the other side did not accept our certificate".into()
        }
        _ => format!("the other side closed the connection (error code {code:#x})"),
    }
}

//! [`HandshakeFailure`]: why a TLS handshake failed, by kind, for a metric's label, and in
//! words a user understands, for a log line or a client's one line.

use std::io;

use rustls::{AlertDescription, CertificateError};

/// The kinds of TLS handshake failure, as the metrics count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// No handshake within its deadline.
    Timeout,
    /// The connection closed before the handshake ended.
    Closed,
    /// The bytes were not TLS: a plain client on a TLS port, or a plain server answering one.
    NotTls,
    /// No version, cipher suite or application protocol in common.
    NoCommonProtocol,
    /// Mutual TLS: the client sent no certificate.
    NoClientCertificate,
    /// A certificate (the client's to a server, the server's to a client) was not trusted.
    BadCertificate,
    /// The peer ended the handshake with an alert of its own.
    PeerAlert,
    /// Anything else: a network error, a malformed handshake.
    Other,
}

impl HandshakeFailure {
    /// Every kind, in the order of the metrics.
    pub const ALL: [HandshakeFailure; 8] = [
        Self::Timeout,
        Self::Closed,
        Self::NotTls,
        Self::NoCommonProtocol,
        Self::NoClientCertificate,
        Self::BadCertificate,
        Self::PeerAlert,
        Self::Other,
    ];

    /// The name in metrics and logs: `timeout`, `not_tls`…
    pub fn name(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Closed => "closed",
            Self::NotTls => "not_tls",
            Self::NoCommonProtocol => "no_common_protocol",
            Self::NoClientCertificate => "no_client_certificate",
            Self::BadCertificate => "bad_certificate",
            Self::PeerAlert => "peer_alert",
            Self::Other => "other",
        }
    }
}

/// TLS's own error inside `error`, if it carries one.
pub(crate) fn tls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

/// A failed handshake, diagnosed: its kind, and the failure in words.
#[derive(Debug)]
pub(crate) struct Diagnosis {
    pub(crate) failure: HandshakeFailure,
    pub(crate) detail: String,
}

/// The kind of a failed handshake's error, and the error in words.
pub(crate) fn classify(error: &io::Error) -> Diagnosis {
    let (failure, detail) = match tls_error(error) {
        Some(tls) => (kind(tls), words(tls)),
        None if error.kind() == io::ErrorKind::UnexpectedEof => (
            HandshakeFailure::Closed,
            "the connection closed during the TLS handshake".into(),
        ),
        None => (HandshakeFailure::Other, crate::describe::describe(error)),
    };
    Diagnosis { failure, detail }
}

fn kind(error: &rustls::Error) -> HandshakeFailure {
    use rustls::Error as E;
    match error {
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => HandshakeFailure::NotTls,
        E::InappropriateHandshakeMessage { .. } => HandshakeFailure::NotTls,
        E::NoApplicationProtocol => HandshakeFailure::NoCommonProtocol,
        E::PeerIncompatible(_) => HandshakeFailure::NoCommonProtocol,
        E::NoCertificatesPresented => HandshakeFailure::NoClientCertificate,
        E::InvalidCertificate(_) => HandshakeFailure::BadCertificate,
        E::AlertReceived(_) => HandshakeFailure::PeerAlert,
        _ => HandshakeFailure::Other,
    }
}

/// `error` as a user would say it.
fn words(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            "the other side does not speak TLS (a plain TCP port?)".into()
        }
        E::InappropriateHandshakeMessage { .. } => {
            "the other side does not speak TLS as expected (a plain TCP port?)".into()
        }
        E::NoApplicationProtocol => "no application protocol (ALPN) in common".into(),
        E::PeerIncompatible(why) => format!("no TLS version or cipher in common ({why:?})"),
        E::NoCertificatesPresented => "no client certificate was presented".into(),
        E::InvalidCertificate(why) => certificate_words(why),
        E::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate (--cert and --key)".into()
        }
        E::AlertReceived(AlertDescription::UnknownCA | AlertDescription::BadCertificate) => {
            "the other side did not accept our certificate".into()
        }
        E::AlertReceived(alert) => format!("the other side refused the handshake ({alert:?})"),
        error => error.to_string(),
    }
}

fn certificate_words(error: &CertificateError) -> String {
    use CertificateError as C;
    match error {
        C::Expired | C::ExpiredContext { .. } => "the certificate has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "the certificate is not valid yet".into(),
        C::NotValidForName | C::NotValidForNameContext { .. } => {
            "the certificate is not valid for that name (--servername names another)".into()
        }
        C::UnknownIssuer => "the certificate is signed by an unknown authority".into(),
        C::BadSignature | C::BadEncoding => "the certificate is malformed or forged".into(),
        C::Revoked => "the certificate has been revoked".into(),
        error => format!("the certificate was refused ({error:?})"),
    }
}

//! TLS's client side: [`TlsWrap`], the handshake on each connection and what it agreed, and
//! [`Insecure`], the verifier of `--insecure`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::TransportError;
use crate::handshake::Handshake;
use crate::stream_client::{Wrap, Wrapped};
use crate::tls_deadline::within;
use crate::tls_failure::HandshakeFailure;

/// The TLS handshake each client connection starts with.
#[derive(Clone)]
pub struct TlsWrap {
    connector: TlsConnector,
    name: ServerName<'static>,
}

impl std::fmt::Debug for TlsWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsWrap").field("name", &self.name).finish()
    }
}

impl TlsWrap {
    pub(crate) fn new(config: ClientConfig, name: ServerName<'static>) -> Self {
        Self {
            connector: TlsConnector::from(Arc::new(config)),
            name,
        }
    }
}

impl Wrap for TlsWrap {
    const NAME: &'static str = "tls";
    type Stream = TlsStream<TcpStream>;

    async fn wrap(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        limit: Duration,
    ) -> Result<Wrapped<Self::Stream>, TransportError> {
        let started = Instant::now();
        let shaking = self.connector.connect(self.name.clone(), stream);
        let late = || {
            format!(
                "no TLS handshake from the server within {limit:?} (a plain TCP port, or a \
                 slow server? --timeout waits longer)"
            )
        };
        let stream = within(limit, addr, shaking, late)
            .await
            .map_err(with_trust_hint)?;
        let handshake = agreed(&stream, started.elapsed());
        Ok(Wrapped {
            handshake: Some(handshake),
            stream,
        })
    }
}

/// A refused server certificate, with what the user can do about it.
pub(crate) fn with_trust_hint(error: TransportError) -> TransportError {
    match error {
        TransportError::Handshake {
            addr,
            failure: failure @ HandshakeFailure::BadCertificate,
            detail,
        } => TransportError::Handshake {
            addr,
            failure,
            detail: format!("{detail} (--cacert FILE trusts a CA; --insecure skips the check)"),
        },
        error => error,
    }
}

fn agreed(stream: &TlsStream<TcpStream>, took: Duration) -> Handshake {
    let (_, connection) = stream.get_ref();
    let version = match connection.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
        _ => "TLS",
    };
    let cipher = connection
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .unwrap_or("unknown");
    let key_exchange = connection.negotiated_key_exchange_group().map_or_else(
        || "unknown".to_owned(),
        |group| format!("{:?}", group.name()),
    );
    Handshake {
        took,
        version: version.to_owned(),
        cipher: cipher.to_owned(),
        key_exchange,
        alpn: connection
            .alpn_protocol()
            .map(|alpn| String::from_utf8_lossy(alpn).into_owned()),
        resumed: matches!(
            connection.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        ),
        quic_version: None,
    }
}

/// `--insecure`: any certificate is taken for the server's, as curl's `-k` does. The handshake's
/// signatures are still checked, so the connection is encrypted, to whoever is there.
#[derive(Debug)]
pub(crate) struct Insecure(Arc<CryptoProvider>);

impl Insecure {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }
}

impl ServerCertVerifier for Insecure {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

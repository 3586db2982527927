//! [`TlsKeys`]: the certificate and key that new TLS and QUIC connections are served with,
//! read from [`TlsServerFiles`] and replaceable while serving.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use quinn::crypto::rustls::QuicServerConfig;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;

use crate::tls_files::{self, TlsFileError};

/// The ALPN name of the textbook's protocol over TLS and QUIC. Over TLS offered, not required
/// (`openssl s_client`, `ncat --ssl` and socat send none); over QUIC required, as QUIC asks.
pub const ALPN: &[u8] = b"upcase";

/// Where a TLS server's certificate chain, key and (for mutual TLS) client CA are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerFiles {
    /// The certificate chain, PEM: the server's own first.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// The CA whose client certificates are required, PEM; `None`: no client certificate asked.
    pub client_ca: Option<PathBuf>,
}

/// The configurations new connections are served with. Cloned, it is shared: a
/// [`reload`](Self::reload) reaches every listener made with it, while connections already open
/// keep what they started with.
#[derive(Debug, Clone)]
pub struct TlsKeys(Arc<ArcSwap<Configs>>);

/// One reading of the files, for each protocol.
struct Configs {
    /// TLS 1.3 and 1.2 over TCP.
    tls: Arc<ServerConfig>,
    /// TLS 1.3 inside QUIC.
    quic: Arc<QuicServerConfig>,
}

impl TlsKeys {
    /// Reads `files` into configurations: TLS 1.3 and 1.2 over TCP, 1.3 in QUIC; ALPN
    /// `upcase`; session tickets.
    ///
    /// # Errors
    /// [`TlsFileError`] naming the file that cannot be read or used, as when the key does not
    /// match the certificate.
    pub fn load(files: &TlsServerFiles) -> Result<Self, TlsFileError> {
        Ok(Self(Arc::new(ArcSwap::from_pointee(configs(files)?))))
    }

    /// Reads `files` again and serves new connections with them; on error, keeps what it had.
    ///
    /// # Errors
    /// As for [`load`](Self::load).
    pub fn reload(&self, files: &TlsServerFiles) -> Result<(), TlsFileError> {
        self.0.store(Arc::new(configs(files)?));
        Ok(())
    }

    pub(crate) fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.0.load().tls)
    }

    pub(crate) fn quic(&self) -> Arc<QuicServerConfig> {
        Arc::clone(&self.0.load().quic)
    }
}

impl std::fmt::Debug for Configs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configs")
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn configs(files: &TlsServerFiles) -> Result<Configs, TlsFileError> {
    let tls = config(files, crate::tls_provider::VERSIONS)?;
    let quic = config(files, &[&rustls::version::TLS13])?;
    let quic = QuicServerConfig::try_from(quic).map_err(|error| TlsFileError::Invalid {
        path: files.key.clone(),
        reason: error.to_string(),
    })?;
    Ok(Configs {
        tls,
        quic: Arc::new(quic),
    })
}

fn config(
    files: &TlsServerFiles,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<ServerConfig>, TlsFileError> {
    let chain = tls_files::certificates(&files.cert)?;
    let key = tls_files::private_key(&files.key)?;
    let provider = crate::tls_provider::provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|error| invalid(&files.cert, &error))?;
    let builder = match &files.client_ca {
        Some(path) => {
            let roots = Arc::new(tls_files::authorities(path)?);
            let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|error| TlsFileError::Invalid {
                    path: path.clone(),
                    reason: error.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|error| invalid(&files.key, &error))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.ticketer =
        rustls::crypto::ring::Ticketer::new().map_err(|error| invalid(&files.key, &error))?;
    Ok(Arc::new(config))
}

fn invalid(path: &std::path::Path, error: &rustls::Error) -> TlsFileError {
    let reason = match error {
        rustls::Error::InconsistentKeys(_) => "the key does not match the certificate".into(),
        error => error.to_string(),
    };
    TlsFileError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

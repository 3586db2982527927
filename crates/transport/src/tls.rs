//! [`Tls`]: the textbook's stream protocol inside TLS, as a transport value that carries its
//! configuration: the server's [`TlsKeys`], or what a client trusts and which name it expects.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::client::ClientOptions;
use crate::error::TransportError;
use crate::stream_client::StreamClient;
use crate::tls_client::{Insecure, TlsWrap};
use crate::tls_files;
use crate::tls_keys::{ALPN, TlsKeys};
use crate::tls_provider::{VERSIONS, provider};
use crate::tls_server::TlsListener;
use crate::{BoundSocket, Sharing, Transport, tcp};

/// How long a server waits for a connection's handshake unless told otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS's port unless told otherwise: HTTPS's 443 beside HTTP's 80, as 12443 beside 12000.
pub const TLS_PORT: u16 = 12_443;

/// TLS's client: one connection, and one handshake, per exchange, or one for a whole pipe.
pub type TlsClient = StreamClient<TlsWrap>;

/// TLS over TCP, carrying the textbook's stream protocol unchanged.
#[derive(Debug, Clone)]
pub struct Tls {
    server: Option<TlsKeys>,
    client: Option<TlsWrap>,
    handshake_timeout: Duration,
}

/// What a TLS client trusts, and what it shows of itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// The name the server's certificate must be valid for, sent as SNI: a host name or an IP
    /// address.
    pub servername: String,
    /// The CAs to trust instead of the system's, PEM.
    pub cacert: Option<PathBuf>,
    /// Skips the check of the server's certificate (its signature of the handshake is still
    /// checked): anyone between client and server could read and change the traffic.
    pub insecure: bool,
    /// A client certificate chain and its key, PEM, for servers that require one.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// Whether to resume sessions (tickets) on later connections to the same server.
    pub resume: bool,
}

impl Tls {
    /// A server's TLS, serving `keys`.
    pub fn server(keys: TlsKeys) -> Self {
        Self {
            server: Some(keys),
            client: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// How long a server waits for a connection's handshake.
    #[must_use]
    pub fn with_handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// A client's TLS.
    ///
    /// # Errors
    /// [`TransportError::TlsFile`] for a file that cannot be used,
    /// [`TransportError::ServerName`] for a name that is neither a host name nor an address.
    pub fn client(options: &TlsClientOptions) -> Result<Self, TransportError> {
        let name = server_name(options)?;
        let config = client_config(options, VERSIONS)?;
        Ok(Self {
            server: None,
            client: Some(TlsWrap::new(config, name)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// A client's handshake, for callers that make their own connections (a load generator's);
    /// `None` for a server's TLS.
    pub fn client_wrap(&self) -> Option<&TlsWrap> {
        self.client.as_ref()
    }
}

/// The name `options` expect the server's certificate for, as rustls takes it.
pub(crate) fn server_name(
    options: &TlsClientOptions,
) -> Result<ServerName<'static>, TransportError> {
    ServerName::try_from(options.servername.clone())
        .map_err(|_| TransportError::ServerName(options.servername.clone()))
}

/// A client's configuration from `options`, for `versions`: what it trusts, what it shows of
/// itself, ALPN `upcase`, and whether it resumes sessions.
pub(crate) fn client_config(
    options: &TlsClientOptions,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ClientConfig, TransportError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|error| TransportError::Tls(error.to_string()))?;
    let builder = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Insecure::new(provider())))
    } else {
        builder.with_root_certificates(roots(options.cacert.as_ref())?)
    };
    let mut config = match &options.identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(tls_files::certificates(cert)?, tls_files::private_key(key)?)
            .map_err(|error| tls_files::TlsFileError::Invalid {
                path: key.clone(),
                reason: error.to_string(),
            })?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN.to_vec()];
    if !options.resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(config)
}

/// The CAs in `cacert`, or the system's.
fn roots(cacert: Option<&PathBuf>) -> Result<rustls::RootCertStore, TransportError> {
    if let Some(path) = cacert {
        return Ok(tls_files::authorities(path)?);
    }
    let found = rustls_native_certs::load_native_certs();
    let mut roots = rustls::RootCertStore::empty();
    // Certificates the store cannot use are skipped, as every client does.
    let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        return Err(TransportError::Tls(
            "the system has no trusted certificate authorities; name one with --cacert FILE".into(),
        ));
    }
    Ok(roots)
}

impl Transport for Tls {
    const NAME: &'static str = "tls";
    type Server = TlsListener;
    type Client = TlsClient;

    fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError> {
        tcp::listening(Self::NAME, addr, sharing)
    }

    fn listen(&self, bound: BoundSocket) -> Result<TlsListener, TransportError> {
        let keys = self.server.clone().ok_or(TransportError::NotConfigured {
            transport: Self::NAME,
            side: "server",
        })?;
        Ok(TlsListener {
            inner: tcp::listener(Self::NAME, bound)?,
            keys,
            handshake_timeout: self.handshake_timeout,
        })
    }

    async fn connect(
        &self,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<TlsClient, TransportError> {
        let wrap = self.client.clone().ok_or(TransportError::NotConfigured {
            transport: Self::NAME,
            side: "client",
        })?;
        StreamClient::connect(addrs, options, wrap).await
    }
}

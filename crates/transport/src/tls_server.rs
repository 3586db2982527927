//! TLS's server side: [`TlsKeys`], the certificate and key that new connections are served
//! with (replaceable while serving), [`TlsListener`], [`TlsIncoming`] and [`TlsPeer`].
//!
//! Inside TLS the protocol is TCP's: each chunk is answered as it comes, and the client's end
//! of its request, TLS's `close_notify` or a TCP half-close under it, ends the exchange.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::rewind::Rewind;
use crate::tcp::linger;
use crate::tcp_read::CHUNK;
use crate::tls_deadline::within;
use crate::tls_files::{self, TlsFileError};
use crate::{Accepted, Incoming, Listener, Peer, ServerSocket, TransportError};

/// The ALPN name of the textbook's protocol over TLS. Offered, not required: `openssl
/// s_client`, `ncat --ssl` and socat send none.
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

/// The TLS configuration new connections are served with. Cloned, it is shared: a
/// [`reload`](Self::reload) reaches every listener made with it, while connections already open
/// keep what they started with.
#[derive(Debug, Clone)]
pub struct TlsKeys(Arc<ArcSwap<ServerConfig>>);

impl TlsKeys {
    /// Reads `files` into a configuration: TLS 1.3 and 1.2, ALPN `upcase`, session tickets.
    ///
    /// # Errors
    /// [`TlsFileError`] naming the file that cannot be read or used, as when the key does not
    /// match the certificate.
    pub fn load(files: &TlsServerFiles) -> Result<Self, TlsFileError> {
        Ok(Self(Arc::new(ArcSwap::from(config(files)?))))
    }

    /// Reads `files` again and serves new connections with them; on error, keeps what it had.
    ///
    /// # Errors
    /// As for [`load`](Self::load).
    pub fn reload(&self, files: &TlsServerFiles) -> Result<(), TlsFileError> {
        self.0.store(config(files)?);
        Ok(())
    }

    fn current(&self) -> Arc<ServerConfig> {
        self.0.load_full()
    }
}

fn config(files: &TlsServerFiles) -> Result<Arc<ServerConfig>, TlsFileError> {
    let chain = tls_files::certificates(&files.cert)?;
    let key = tls_files::private_key(&files.key)?;
    let provider = crate::tls_provider::provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(crate::tls_provider::VERSIONS)
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

/// A listening socket whose connections speak TLS.
#[derive(Debug)]
pub struct TlsListener {
    pub(crate) inner: tokio::net::TcpListener,
    pub(crate) keys: TlsKeys,
    pub(crate) handshake_timeout: Duration,
}

impl ServerSocket for TlsListener {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener for TlsListener {
    type Incoming = TlsIncoming;

    async fn accept(&mut self) -> io::Result<TlsIncoming> {
        let (stream, addr) = self.inner.accept().await?;
        Ok(TlsIncoming {
            accepted: Accepted::new(stream, addr),
            config: self.keys.current(),
            handshake_timeout: self.handshake_timeout,
        })
    }
}

/// A TLS connection accepted, its handshake not yet made.
#[derive(Debug)]
pub struct TlsIncoming {
    accepted: Accepted,
    /// The configuration when it was accepted: a reload while it shakes hands does not change it.
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl Incoming for TlsIncoming {
    type Peer = TlsPeer;

    fn addr(&self) -> SocketAddr {
        self.accepted.addr
    }

    fn accepted(&mut self) -> &mut Accepted {
        &mut self.accepted
    }

    async fn start(self) -> Result<TlsPeer, TransportError> {
        let Accepted {
            stream,
            addr,
            carried,
            ..
        } = self.accepted;
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config);
        let shaking = acceptor.accept(Rewind::new(carried, stream));
        let limit = self.handshake_timeout;
        let late = || format!("no handshake within {limit:?}");
        let stream = within(limit, addr, shaking, late).await?;
        Ok(TlsPeer {
            stream,
            addr,
            buf: vec![0; CHUNK],
            finished: false,
        })
    }
}

/// A TLS connection, its handshake made.
#[derive(Debug)]
pub struct TlsPeer {
    stream: TlsStream<Rewind<TcpStream>>,
    addr: SocketAddr,
    buf: Vec<u8>,
    /// Whether the client has finished sending.
    finished: bool,
}

impl Peer for TlsPeer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read(&mut self) -> io::Result<&[u8]> {
        let n = match self.stream.read(&mut self.buf).await {
            // A TCP half-close without `close_notify` ends the request all the same.
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => 0,
            read => read?,
        };
        if n == 0 {
            self.finished = true;
        }
        Ok(&self.buf[..n])
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        // `close_notify`, then TCP's end of stream.
        self.stream.shutdown().await?;
        if self.finished {
            return Ok(());
        }
        linger(&mut self.stream, &mut self.buf).await;
        Ok(())
    }
}

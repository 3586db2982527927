//! TLS's server side: [`TlsListener`], [`TlsIncoming`] and [`TlsPeer`].
//!
//! Inside TLS the protocol is TCP's: each chunk is answered as it comes, and the client's end
//! of its request, TLS's `close_notify` or a TCP half-close under it, ends the exchange.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::CHUNK;
use crate::accepted::Accepted;
use crate::error::TransportError;
use crate::rewind::Rewind;
use crate::server::{Incoming, Listener, Peer, ServerSocket};
use crate::tcp::linger;
use crate::tls_deadline::within;
use crate::tls_keys::TlsKeys;

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

//! QUIC's server side: [`QuicListener`], an endpoint on one UDP socket; [`QuicIncoming`], a
//! connection asked for and not yet admitted; [`QuicConnection`], one that shook hands; and
//! [`QuicStream`], one exchange: a bidirectional stream served as a TCP connection is, the
//! client's finish ending its request and the server's ending the reply.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::{Endpoint, RecvStream, SendStream, ServerConfig};
use tokio::time::timeout;

use crate::CHUNK;
use crate::error::TransportError;
use crate::quic_failure::classify;
use crate::server::{Peer, ServerSocket};
use crate::tls_failure::{Diagnosis, HandshakeFailure};
use crate::tls_keys::TlsKeys;

/// An endpoint serving QUIC on one UDP socket.
#[derive(Debug)]
pub struct QuicListener {
    pub(crate) endpoint: Endpoint,
    pub(crate) keys: TlsKeys,
    /// The endpoint's configuration, but for its certificate, which comes from `keys` anew
    /// for each connection: the key of its Retry tokens stays the same across reloads.
    pub(crate) config: ServerConfig,
    pub(crate) handshake_timeout: Duration,
}

impl ServerSocket for QuicListener {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }
}

impl QuicListener {
    /// The next connection a client asks for; `None` once the endpoint is closed.
    pub async fn accept(&self) -> Option<QuicIncoming> {
        let incoming = self.endpoint.accept().await?;
        let mut config = self.config.clone();
        config.crypto = self.keys.quic();
        Some(QuicIncoming {
            incoming,
            config: Arc::new(config),
            handshake_timeout: self.handshake_timeout,
        })
    }

    /// Closes every connection, telling their clients, and refuses new ones.
    pub fn close(&self) {
        self.endpoint.close(0u32.into(), b"the server is stopping");
    }

    /// Waits until the clients were told of the close, within a deadline of quinn's.
    pub async fn wait_idle(&self) {
        self.endpoint.wait_idle().await;
    }
}

/// A connection asked for: its client's address, which may not be its own yet.
#[derive(Debug)]
pub struct QuicIncoming {
    incoming: quinn::Incoming,
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
}

impl QuicIncoming {
    /// Where the client says it is.
    pub fn addr(&self) -> SocketAddr {
        self.incoming.remote_address()
    }

    /// Whether the client proved it receives at `addr` (it returned a Retry token).
    pub fn validated(&self) -> bool {
        self.incoming.remote_address_validated()
    }

    /// Asks the client to prove its address before anything more is spent on it (RFC 9000
    /// §8.1.2): `None` once asked; the connection back when it was asked once already.
    pub fn retry(self) -> Option<Self> {
        if !self.incoming.may_retry() {
            return Some(self);
        }
        let Self {
            incoming,
            config,
            handshake_timeout,
        } = self;
        incoming.retry().err().map(|error| Self {
            incoming: error.into_incoming(),
            config,
            handshake_timeout,
        })
    }

    /// Refuses the connection, telling the client the server is busy.
    pub fn refuse(self) {
        self.incoming.refuse();
    }

    /// Makes the handshake within its deadline.
    ///
    /// # Errors
    /// [`TransportError::Handshake`], by kind.
    pub async fn start(self) -> Result<QuicConnection, TransportError> {
        let addr = self.addr();
        let connecting = self
            .incoming
            .accept_with(self.config)
            .map_err(|error| TransportError::handshake(addr, classify(&error)))?;
        let limit = self.handshake_timeout;
        match timeout(limit, connecting).await {
            Ok(Ok(connection)) => Ok(QuicConnection { connection, addr }),
            Ok(Err(error)) => Err(TransportError::handshake(addr, classify(&error))),
            Err(_) => Err(TransportError::handshake(
                addr,
                Diagnosis {
                    failure: HandshakeFailure::Timeout,
                    detail: format!("no handshake within {limit:?}"),
                },
            )),
        }
    }
}

/// A QUIC connection, its handshake made: a source of streams.
#[derive(Debug)]
pub struct QuicConnection {
    connection: quinn::Connection,
    addr: SocketAddr,
}

impl QuicConnection {
    /// The client's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client's next exchange; `None` once the connection has ended.
    pub async fn accept_stream(&self) -> Option<QuicStream> {
        let (send, recv) = self.connection.accept_bi().await.ok()?;
        Some(QuicStream {
            send,
            recv,
            addr: self.addr,
            buf: vec![0; CHUNK],
            finished: false,
        })
    }

    /// Closes the connection, telling the client why.
    pub fn close(&self, why: &str) {
        self.connection.close(0u32.into(), why.as_bytes());
    }
}

/// One exchange: a bidirectional stream of a connection.
#[derive(Debug)]
pub struct QuicStream {
    send: SendStream,
    recv: RecvStream,
    addr: SocketAddr,
    buf: Vec<u8>,
    /// Whether the client has finished its side.
    finished: bool,
}

impl Peer for QuicStream {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read(&mut self) -> io::Result<&[u8]> {
        match self
            .recv
            .read(&mut self.buf)
            .await
            .map_err(io::Error::from)?
        {
            Some(n) => Ok(&self.buf[..n]),
            None => {
                self.finished = true;
                Ok(&[])
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.send.write_all(bytes).await.map_err(io::Error::from)
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        // Finishing tells the client the reply is whole; a client that stopped reading has
        // reset the stream already, which is no error of ours.
        let _ = self.send.finish();
        if !self.finished {
            // The request was cut short (a drain, a limit): nothing more of it is wanted.
            let _ = self.recv.stop(0u32.into());
        }
        Ok(())
    }
}

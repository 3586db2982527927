//! TCP: a connection carries a byte stream in each direction. The server side: binding,
//! [`TcpListener`] and [`TcpPeer`]; [`listening`] and [`listener`], which every transport over
//! TCP binds with.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::Type;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::accepted::Accepted;
use crate::client::ClientOptions;
use crate::error::TransportError;
use crate::server::{Incoming, Listener, Peer, ServerSocket};
use crate::stream_client::TcpClient;
use crate::tcp_read::Chunks;
use crate::{BoundSocket, Sharing, Tcp, Transport, socket};

/// How many connections the kernel may hold ready before they are accepted (capped by the
/// system's `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// How long a closed connection waits for its client to close too (see [`TcpPeer::close`]).
const LINGER: Duration = Duration::from_millis(500);

impl Transport for Tcp {
    const NAME: &'static str = "tcp";
    type Server = TcpListener;
    type Client = TcpClient;

    fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError> {
        listening(Self::NAME, addr, sharing)
    }

    fn listen(&self, bound: BoundSocket) -> Result<TcpListener, TransportError> {
        listener(Self::NAME, bound).map(|inner| TcpListener { inner })
    }

    async fn connect(
        &self,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<TcpClient, TransportError> {
        TcpClient::connect(addrs, options, crate::stream_client::Plain).await
    }
}

/// A listening TCP socket on `addr`, for the transport named `transport`.
pub(crate) fn listening(
    transport: &'static str,
    addr: SocketAddr,
    sharing: Sharing,
) -> Result<BoundSocket, TransportError> {
    let bind_error = |source| TransportError::Bind {
        transport,
        addr,
        source,
    };
    let socket = socket::bound(addr, Type::STREAM, sharing).map_err(bind_error)?;
    // Replies are often small and the client is waiting for them: Nagle's algorithm must
    // not hold them back. Set here, every accepted connection inherits it (Linux and the
    // BSDs do), which saves a system call per connection.
    socket.set_tcp_nodelay(true).map_err(bind_error)?;
    socket.listen(BACKLOG).map_err(bind_error)?;
    Ok(BoundSocket { socket, addr })
}

/// `bound`, served by the runtime of the calling thread.
pub(crate) fn listener(
    transport: &'static str,
    bound: BoundSocket,
) -> Result<tokio::net::TcpListener, TransportError> {
    tokio::net::TcpListener::from_std(bound.socket.into()).map_err(|source| TransportError::Bind {
        transport,
        addr: bound.addr,
        source,
    })
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener {
    /// tokio's listener; accepts go through it so that the runtime wakes them.
    inner: tokio::net::TcpListener,
}

impl ServerSocket for TcpListener {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener for TcpListener {
    type Incoming = Accepted;

    async fn accept(&mut self) -> io::Result<Accepted> {
        let (stream, addr) = self.inner.accept().await?;
        Ok(Accepted::new(stream, addr))
    }
}

impl Incoming for Accepted {
    type Peer = TcpPeer;

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn accepted(&mut self) -> &mut Accepted {
        self
    }

    fn start_now(self) -> Result<TcpPeer, Self> {
        Ok(TcpPeer::from(self))
    }

    async fn start(self) -> Result<TcpPeer, TransportError> {
        Ok(TcpPeer::from(self))
    }
}

/// An accepted TCP connection.
#[derive(Debug)]
pub struct TcpPeer {
    /// The connection.
    stream: TcpStream,
    /// The client's address.
    addr: SocketAddr,
    /// The request stream's chunks as they are read.
    chunks: Chunks,
}

impl From<Accepted> for TcpPeer {
    fn from(accepted: Accepted) -> Self {
        let mut chunks = Chunks::new();
        if accepted.header_read {
            chunks.carry(accepted.carried);
        }
        Self {
            stream: accepted.stream,
            addr: accepted.addr,
            chunks,
        }
    }
}

impl Peer for TcpPeer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read(&mut self) -> io::Result<&[u8]> {
        self.chunks.read(&self.stream).await
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    async fn close(&mut self) -> Result<(), TransportError> {
        if self.chunks.finished() {
            // Nothing can follow the client's end of stream, so closing cannot reset: it sends
            // what is still buffered, then our end of stream, as a shutdown would.
            return Ok(());
        }
        self.stream.shutdown().await?;
        // A client may still be sending (the server stopped early: shutdown, a limit). Closing
        // with its bytes unread would make the kernel send a reset, which can destroy replies
        // the client has not read yet; so read and discard until it closes too, for a while.
        // On the heap: on the stack it would sit in every connection's future, idle or not.
        linger(&mut self.stream, &mut vec![0; 1024]).await;
        Ok(())
    }
}

/// Reads and discards what the client of `stream` still sends, until it closes too or
/// [`LINGER`] passes, so that closing a connection with its bytes unread does not reset it.
pub(crate) async fn linger<S: AsyncRead + Unpin>(stream: &mut S, discard: &mut [u8]) {
    let drained = async { while let Ok(1..) = stream.read(discard).await {} };
    let _ = timeout(LINGER, drained).await;
}

//! TCP: a connection carries a byte stream in each direction. The server side: binding,
//! [`TcpListener`] and [`TcpPeer`].

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::Type;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::proxy::{self, Parsed};
use crate::tcp_read::Chunks;
use crate::{
    BoundSocket, ClientOptions, Listener, Peer, ServerSocket, Sharing, Tcp, TcpClient, Transport,
    TransportError, socket,
};

/// How many connections the kernel may hold ready before they are accepted (capped by the
/// system's `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// How long a closed connection waits for its client to close too (see [`TcpPeer::close`]).
const LINGER: Duration = Duration::from_millis(500);

impl Transport for Tcp {
    const NAME: &'static str = "tcp";
    type Server = TcpListener;
    type Client = TcpClient;

    fn bind_socket(addr: SocketAddr, sharing: Sharing) -> Result<BoundSocket, TransportError> {
        let bind_error = |source| TransportError::Bind {
            transport: Self::NAME,
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

    fn listen(bound: BoundSocket) -> Result<TcpListener, TransportError> {
        let inner = tokio::net::TcpListener::from_std(bound.socket.into()).map_err(|source| {
            TransportError::Bind {
                transport: Self::NAME,
                addr: bound.addr,
                source,
            }
        })?;
        Ok(TcpListener { inner })
    }

    async fn connect(
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<TcpClient, TransportError> {
        TcpClient::connect(addrs, options).await
    }
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener {
    /// The socket.
    inner: tokio::net::TcpListener,
}

impl ServerSocket for TcpListener {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl Listener for TcpListener {
    type Peer = TcpPeer;

    async fn accept(&mut self) -> io::Result<TcpPeer> {
        let (stream, addr) = self.inner.accept().await?;
        Ok(TcpPeer::new(stream, addr))
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

impl TcpPeer {
    /// A connection accepted elsewhere (by inetd, for one), served as if this side had
    /// accepted it. Must be called inside a runtime.
    ///
    /// # Errors
    /// When the connection has no peer address (it is closed) or the runtime cannot take it.
    pub fn from_stream(stream: std::net::TcpStream) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        let addr = stream.peer_addr()?;
        Ok(Self::new(TcpStream::from_std(stream)?, addr))
    }

    fn new(stream: TcpStream, addr: SocketAddr) -> Self {
        Self {
            stream,
            // An IPv4 client of a dual-stack socket comes as `::ffff:a.b.c.d`; it is an IPv4
            // client, and logs and limits should say so.
            addr: SocketAddr::new(addr.ip().to_canonical(), addr.port()),
            chunks: Chunks::new(),
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

    async fn read_proxy_header(&mut self) -> Result<(), TransportError> {
        let peer = self.addr;
        let fail = |reason: String| TransportError::ProxyHeader { peer, reason };
        let mut header = Vec::new();
        let mut chunk = [0; 512];
        loop {
            match proxy::parse(&header) {
                Parsed::Header { len, client } => {
                    if let Some(client) = client {
                        self.addr = client;
                    }
                    self.chunks.carry(header.split_off(len));
                    return Ok(());
                }
                Parsed::Invalid(reason) => return Err(fail(reason)),
                Parsed::Incomplete if header.len() >= proxy::MAX_HEADER => {
                    return Err(fail(format!(
                        "no header end within {} bytes",
                        proxy::MAX_HEADER
                    )));
                }
                Parsed::Incomplete => {}
            }
            match self.stream.read(&mut chunk).await? {
                0 => return Err(fail("the connection ended before the header did".into())),
                n => header.extend_from_slice(&chunk[..n]),
            }
        }
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
        let mut discard = vec![0; 1024];
        let drained = async {
            while self.stream.read(&mut discard).await? > 0 {}
            io::Result::Ok(())
        };
        let _ = timeout(LINGER, drained).await;
        Ok(())
    }
}

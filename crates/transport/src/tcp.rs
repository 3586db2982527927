//! TCP: a connection carries a byte stream in each direction. The server side: binding,
//! [`TcpListener`] and [`TcpPeer`]; [`listening`] and [`listener`], which every transport over
//! TCP binds with.
//!
//! A connection's chunks are read by [`Chunks`], with the fast paths that make short requests
//! cheap, each in one place with its reason:
//! - the first read is tried before tokio has reported the socket readable
//!   ([`Chunks::read_at_once`]);
//! - a read that empties the socket also clears tokio's readiness ([`read_now`]);
//! - the buffer comes from the thread's [`pool`](crate::pool) and goes back to it while the
//!   connection waits, so that an idle connection holds none.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockRef, Type};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::accepted::Accepted;
use crate::client::ClientOptions;
use crate::error::TransportError;
use crate::server::{Incoming, Listener, Peer, ServerSocket};
use crate::stream_client::TcpClient;
use crate::{BoundSocket, CHUNK, Sharing, Tcp, Transport, pool, socket};

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

/// How much a connection's first read, tried before tokio has reported it readable, may take:
/// the textbook's requests are a line, and what is left is read once tokio reports it.
const FIRST_READ: usize = 2 * 1024;

/// Reads what `stream` holds into the spare capacity of `buf`, without waiting: `None` when it
/// held nothing, `Some(0)` at the end of the stream.
///
/// A read shorter than the room took all the socket had, so the readiness is forgotten then
/// (returning "would block" from `try_io` clears it, as tokio's own `poll_read` does): the next
/// wait goes to epoll at once instead of through a read that could only fail. The readiness is
/// dropped only if no new event came meanwhile.
///
/// # Errors
/// The connection failed.
#[inline]
pub(crate) fn read_now(stream: &TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let room = buf.capacity() - buf.len();
    let mut got = None;
    let read = stream.try_io(Interest::READABLE, || {
        let n = stream.try_read_buf(buf)?;
        got = Some(n);
        match n {
            n if n > 0 && n < room => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    });
    match (got, read) {
        (Some(n), _) => Ok(Some(n)),
        (None, Err(error)) if error.kind() != io::ErrorKind::WouldBlock => Err(error),
        (None, _) => Ok(None),
    }
}

/// Where the next chunk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkSource {
    /// Nothing was read yet: the first request is usually there already.
    First,
    /// Bytes that came after a PROXY header wait in the buffer.
    Carried,
    /// The socket: a read, which may have to wait.
    Socket,
}

/// A connection's request stream, chunk by chunk.
#[derive(Debug)]
pub(crate) struct Chunks {
    /// Where reads land; a slice of it is lent out. Empty, with no memory, while the
    /// connection waits for its client.
    buf: Vec<u8>,
    next: ChunkSource,
    /// Whether the client has finished sending (a read returned end of stream).
    finished: bool,
}

impl Chunks {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            next: ChunkSource::First,
            finished: false,
        }
    }

    /// Whether the client has finished sending.
    pub(crate) fn finished(&self) -> bool {
        self.finished
    }

    /// Keeps `bytes`, read past a PROXY header, as the next chunk.
    pub(crate) fn carry(&mut self, bytes: Vec<u8>) {
        // The header's reads waited for the socket to be readable and took what it held, so a
        // read tried at once after them would most likely find nothing.
        self.next = if bytes.is_empty() {
            ChunkSource::Socket
        } else {
            ChunkSource::Carried
        };
        self.buf = bytes;
    }

    /// The next chunk of the stream; empty once the client has finished sending.
    pub(crate) async fn read(&mut self, stream: &TcpStream) -> io::Result<&[u8]> {
        match std::mem::replace(&mut self.next, ChunkSource::Socket) {
            ChunkSource::Carried => return Ok(&self.buf),
            ChunkSource::First if self.read_at_once(stream)? => return Ok(&self.buf),
            ChunkSource::First | ChunkSource::Socket => {}
        }
        loop {
            if self.buf.len() < self.buf.capacity() {
                // The last read was short, so it emptied the socket and this one will wait:
                // without its buffer, so that an idle connection holds none.
                pool::put(std::mem::take(&mut self.buf));
            }
            stream.readable().await?;
            if self.buf.capacity() == 0 {
                self.buf = pool::take();
            }
            self.buf.clear();
            self.buf.reserve_exact(CHUNK);
            if let Some(n) = read_now(stream, &mut self.buf)? {
                self.finish_if_ended(n);
                return Ok(&self.buf);
            }
        }
    }

    /// A new connection's first request is usually there already, but tokio learns that a
    /// socket is readable only from epoll's next report: a read tried at once saves a trip
    /// through the event loop for every short connection. `false` when it held nothing yet.
    fn read_at_once(&mut self, stream: &TcpStream) -> io::Result<bool> {
        // A plain read needs bytes already set: a small array on the stack costs less to zero
        // than the 16 KiB of a buffer, for every connection.
        let mut first = [0; FIRST_READ];
        match io::Read::read(&mut &*SockRef::from(stream), &mut first) {
            Ok(n) => {
                let mut buf = pool::take();
                buf.reserve_exact(CHUNK);
                buf.extend_from_slice(&first[..n]);
                self.buf = buf;
                self.finish_if_ended(n);
                Ok(true)
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// After a read of `n` bytes: at the end of the stream, the buffer goes back to the pool,
    /// for the next connection rather than the allocator.
    fn finish_if_ended(&mut self, n: usize) {
        if n == 0 {
            self.finished = true;
            pool::put(std::mem::take(&mut self.buf));
        }
    }
}

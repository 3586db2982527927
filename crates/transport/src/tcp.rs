//! TCP: a connection carries a byte stream in each direction.

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use socket2::{SockRef, Type};
use tokio::io::Interest;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::proxy::{self, Parsed};
use crate::{
    BoundSocket, Client, ClientOptions, Listener, Peer, PeerKind, Reply, ReplyEnd, Sharing, Tcp,
    Transport, TransportError, socket,
};

/// How many connections the kernel may hold ready before they are accepted (capped by the
/// system's `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// How much one read may take from a connection.
const CHUNK: usize = 16 * 1024;

/// How much a connection's first read, tried before tokio has reported it readable, may take:
/// the textbook's requests are a line, and what is left is read once tokio reports it.
const FIRST_READ: usize = 2 * 1024;

/// How long a closed connection waits for its client to close too (see [`TcpPeer::close`]).
const LINGER: Duration = Duration::from_millis(500);

thread_local! {
    /// A read buffer put down by a connection about to wait, for the next connection that reads
    /// on this thread: with many connections each sending a little, one buffer passes from one
    /// to the next instead of being allocated and freed for every request.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

impl Transport for Tcp {
    const NAME: &'static str = "tcp";
    type Listener = TcpListener;
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
        let mut client = TcpClient {
            addrs,
            current: 0,
            options,
            ready: None,
        };
        let stream = client.open().await?;
        client.ready = Some((stream, Instant::now()));
        Ok(client)
    }
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpListener {
    /// The socket.
    inner: tokio::net::TcpListener,
}

impl Listener for TcpListener {
    type Peer = TcpPeer;
    const KIND: PeerKind = PeerKind::Connection;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

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
    /// Where reads land; [`Peer::read`] lends a slice of it. Empty, with no memory, while the
    /// connection waits for its client, so that idle connections cost little.
    buf: Vec<u8>,
    /// Whether the client has finished sending (a read returned end of stream).
    finished: bool,
    /// Whether `buf` holds bytes that came after a PROXY header, for the next read.
    carried: bool,
    /// Whether nothing was read from the connection yet.
    fresh: bool,
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
            buf: Vec::new(),
            finished: false,
            carried: false,
            fresh: true,
        }
    }

    /// Reads what the socket holds without waiting for tokio to report it readable; `false`
    /// when it held nothing yet.
    fn read_at_once(&mut self) -> io::Result<bool> {
        // A plain read needs bytes already set: a small array on the stack costs less to zero
        // than the 16 KiB of a buffer, for every connection.
        let mut first = [0; FIRST_READ];
        match io::Read::read(&mut &*SockRef::from(&self.stream), &mut first) {
            Ok(n) => {
                let mut buf = SPARE.take();
                buf.clear();
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

    /// After a read of `n` bytes: at the end of the stream, the buffer goes back to the thread's
    /// spare, for the next connection rather than the allocator.
    fn finish_if_ended(&mut self, n: usize) {
        if n == 0 {
            self.finished = true;
            SPARE.set(std::mem::take(&mut self.buf));
        }
    }
}

impl Peer for TcpPeer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read(&mut self) -> io::Result<&[u8]> {
        if std::mem::take(&mut self.carried) {
            return Ok(&self.buf);
        }
        // A new connection's first request is usually there already, but tokio learns that a
        // socket is readable only from epoll's next report: a read tried at once saves a trip
        // through the event loop for every short connection.
        if std::mem::take(&mut self.fresh) && self.read_at_once()? {
            return Ok(&self.buf);
        }
        loop {
            if self.buf.len() < self.buf.capacity() {
                // The last read was short, so it emptied the socket and this one will wait:
                // without its buffer, so that an idle connection holds none.
                SPARE.set(std::mem::take(&mut self.buf));
            }
            self.stream.readable().await?;
            if self.buf.capacity() == 0 {
                self.buf = SPARE.take();
            }
            self.buf.clear();
            self.buf.reserve_exact(CHUNK);
            let room = self.buf.capacity();
            let mut got = None;
            // A read shorter than the buffer took all the socket had: the readiness is forgotten
            // then (returning "would block" from `try_io` clears it, as tokio's own `poll_read`
            // does), so the next wait goes to epoll at once instead of through a read that could
            // only fail. The readiness is dropped only if no new event came meanwhile.
            let read = self.stream.try_io(Interest::READABLE, || {
                let n = self.stream.try_read_buf(&mut self.buf)?;
                got = Some(n);
                match n {
                    n if n > 0 && n < room => Err(io::ErrorKind::WouldBlock.into()),
                    _ => Ok(()),
                }
            });
            if let Some(n) = got {
                self.finish_if_ended(n);
                return Ok(&self.buf);
            }
            if let Err(error) = read
                && error.kind() != io::ErrorKind::WouldBlock
            {
                return Err(error);
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    async fn read_proxy_header(&mut self) -> Result<(), TransportError> {
        let peer = self.addr;
        let fail = |reason: String| TransportError::ProxyHeader { peer, reason };
        // The header's reads waited for the socket to be readable and took what it held, so a
        // read tried at once after them would most likely find nothing.
        self.fresh = false;
        let mut header = Vec::new();
        let mut chunk = [0; 512];
        loop {
            match proxy::parse(&header) {
                Parsed::Header { len, client } => {
                    if let Some(client) = client {
                        self.addr = client;
                    }
                    self.buf = header.split_off(len);
                    self.carried = !self.buf.is_empty();
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

    async fn close(mut self) -> Result<(), TransportError> {
        if self.finished {
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

/// A TCP client: one connection per exchange, or one for a whole pipe.
#[derive(Debug)]
pub struct TcpClient {
    /// Where the server may be, in the order to try.
    addrs: Vec<SocketAddr>,
    /// The address that last accepted a connection.
    current: usize,
    /// Timeouts.
    options: ClientOptions,
    /// The connection made by `connect`, and when: kept for the first exchange if that comes
    /// soon, as it does for a message on the command line.
    ready: Option<(TcpStream, Instant)>,
}

impl TcpClient {
    /// The connection to the server, for a caller that streams through it itself (as the
    /// client's pipe mode does with blocking I/O): the one made by `connect`, or a new one.
    ///
    /// # Errors
    /// [`TransportError::Connect`] when no address accepts a connection.
    pub async fn into_stream(mut self) -> Result<TcpStream, TransportError> {
        self.open().await
    }

    /// Connects to the address that worked last, then to each of the others in turn.
    async fn open(&mut self) -> Result<TcpStream, TransportError> {
        // A connection left idle for long (a person thinking at a prompt) may have been
        // closed by the server meanwhile; a new one costs only a handshake.
        if let Some((stream, made)) = self.ready.take()
            && made.elapsed() < self.options.timeout
        {
            return Ok(stream);
        }
        let mut failures = Vec::new();
        for i in (0..self.addrs.len()).map(|k| (self.current + k) % self.addrs.len()) {
            let addr = self.addrs[i];
            let attempt = timeout(self.options.timeout, TcpStream::connect(addr)).await;
            match attempt.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    self.current = i;
                    return Ok(stream);
                }
                Err(error) => failures.push((addr, error)),
            }
        }
        Err(TransportError::Connect(failures))
    }
}

impl Client for TcpClient {
    fn peer(&self) -> SocketAddr {
        self.addrs[self.current]
    }

    async fn exchange_reply(&mut self, message: &[u8]) -> Result<Reply, TransportError> {
        let mut stream = self.open().await?;
        stream.write_all(message).await?;
        stream.shutdown().await?;
        let max = self.options.max_reply;
        let mut reply = Vec::new();
        let mut buf = vec![0; CHUNK];
        let mut finished = Instant::now();
        loop {
            match timeout(self.options.timeout, stream.read(&mut buf)).await {
                Ok(Ok(0)) => {
                    if reply.is_empty() {
                        finished = Instant::now();
                    }
                    return Ok(Reply {
                        bytes: reply,
                        finished,
                        end: ReplyEnd::Closed,
                    });
                }
                Ok(Ok(n)) if reply.len() + n > max => {
                    return Err(TransportError::ReplyTooLong {
                        addr: self.peer(),
                        max,
                    });
                }
                Ok(Ok(n)) => {
                    finished = Instant::now();
                    reply.extend_from_slice(&buf[..n]);
                }
                Ok(Err(error)) => return Err(error.into()),
                // A server that answers but never closes (some echo servers wait for the
                // client to close first): after a quiet spell the reply is taken as whole.
                Err(_) if !reply.is_empty() => {
                    return Ok(Reply {
                        bytes: reply,
                        finished,
                        end: ReplyEnd::Quiet,
                    });
                }
                Err(_) => {
                    return Err(TransportError::NoReply {
                        transport: Tcp::NAME,
                        addr: self.peer(),
                        tries: 1,
                        timeout: self.options.timeout,
                    });
                }
            }
        }
    }

    async fn pipe<R, W>(&mut self, mut input: R, mut output: W) -> Result<(), TransportError>
    where
        R: AsyncRead + Unpin + Send,
        W: AsyncWrite + Unpin + Send,
    {
        let stream = self.open().await?;
        let (mut from_server, mut to_server) = stream.into_split();
        // Both directions at once: sending everything before reading would deadlock as soon as
        // the replies fill the socket buffers, and holding them would need unbounded memory.
        let upload = async {
            tokio::io::copy(&mut input, &mut to_server).await?;
            to_server.shutdown().await
        };
        let download = async {
            tokio::io::copy(&mut from_server, &mut output).await?;
            output.flush().await
        };
        tokio::try_join!(upload, download)?;
        Ok(())
    }
}

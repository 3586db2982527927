//! [`StreamClient`]: the client side of every transport over TCP, a connection per exchange
//! or one for a whole pipe; [`Wrap`], what a transport does with each connection before its
//! first byte ([`Plain`] TCP nothing, TLS its handshake).

use std::io;
use std::net::SocketAddr;

use std::future::Future;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::CHUNK;
use crate::client::{Client, ClientOptions, Reply, ReplyEnd};
use crate::error::{Attempt, TransportError};
use crate::handshake::Handshake;
use crate::tls_failure::{classify, tls_error};

/// The pipe mode's buffers, each way: large enough that system calls and TLS records are few.
const PIPE_BUFFER: usize = 256 * 1024;

/// What a stream transport does with each new TCP connection before its first byte.
pub trait Wrap: Send + Sync + 'static {
    /// The transport's name, for messages.
    const NAME: &'static str;
    /// The connection as the transport carries bytes over it.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send;

    /// Starts the transport over `stream`, a connection to `addr`, within `limit`; says how
    /// the handshake went, if there was one.
    fn wrap(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        limit: std::time::Duration,
    ) -> impl Future<Output = Result<Wrapped<Self::Stream>, TransportError>> + Send;
}

/// A connection its transport has started on: what [`Wrap::wrap`] returns.
#[derive(Debug)]
pub struct Wrapped<S> {
    /// The connection, as the transport carries bytes over it.
    pub stream: S,
    /// What the handshake agreed, for a transport that has one (TLS).
    pub handshake: Option<Handshake>,
}

/// Plain TCP: the connection as it is.
#[derive(Debug, Clone, Copy)]
pub struct Plain;

impl Wrap for Plain {
    const NAME: &'static str = "tcp";
    type Stream = TcpStream;

    async fn wrap(
        &self,
        stream: TcpStream,
        _addr: SocketAddr,
        _limit: std::time::Duration,
    ) -> Result<Wrapped<TcpStream>, TransportError> {
        Ok(Wrapped {
            stream,
            handshake: None,
        })
    }
}

/// TCP's client: one connection per exchange, or one for a whole pipe.
pub type TcpClient = StreamClient<Plain>;

/// A client of a transport over TCP: one connection per exchange, or one for a whole pipe.
#[derive(Debug)]
pub struct StreamClient<W: Wrap> {
    /// Where the server may be, in the order to try.
    addrs: Vec<SocketAddr>,
    /// The address that last accepted a connection.
    current: usize,
    /// Timeouts.
    options: ClientOptions,
    /// The connection made by `connect`, and when: kept for the first exchange if that comes
    /// soon, as it does for a message on the command line.
    ready: Option<(W::Stream, Instant)>,
    /// What each connection goes through first.
    wrap: W,
    /// How the last connection's handshake went.
    handshake: Option<Handshake>,
}

impl<W: Wrap> StreamClient<W> {
    /// Connects to the first of `addrs` that accepts, keeping the connection for the first
    /// exchange.
    pub(crate) async fn connect(
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
        wrap: W,
    ) -> Result<Self, TransportError> {
        let mut client = Self {
            addrs,
            current: 0,
            options,
            ready: None,
            wrap,
            handshake: None,
        };
        let stream = client.open().await?;
        client.ready = Some((stream, Instant::now()));
        Ok(client)
    }

    /// Connects to the address that worked last, then to each of the others in turn, and
    /// starts the transport on the first that accepts.
    async fn open(&mut self) -> Result<W::Stream, TransportError> {
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
                    let wrapped = self.wrap.wrap(stream, addr, self.options.timeout).await?;
                    self.handshake = wrapped.handshake;
                    return Ok(wrapped.stream);
                }
                Err(error) => failures.push(Attempt { addr, error }),
            }
        }
        Err(TransportError::Connect(failures))
    }
}

impl<W: Wrap> Client for StreamClient<W> {
    fn peer(&self) -> SocketAddr {
        self.addrs[self.current]
    }

    fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    async fn exchange_reply(&mut self, message: &[u8]) -> Result<Reply, TransportError> {
        let mut stream = self.open().await?;
        let addr = self.peer();
        let failed = |error| in_words(error, addr);
        let sent = async {
            stream.write_all(message).await?;
            stream.shutdown().await
        };
        if let Err(error) = sent.await {
            return Err(why_not_sent(&mut stream, error, addr).await);
        }
        let max = self.options.max_reply;
        let mut reply = Vec::new();
        let mut buf = vec![0; CHUNK];
        let mut finished = Instant::now();
        loop {
            match timeout(self.options.timeout, read_to_end(&mut stream, &mut buf)).await {
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
                Ok(Err(error)) => return Err(failed(error)),
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
                        transport: W::NAME,
                        addr: self.peer(),
                        tries: 1,
                        timeout: self.options.timeout,
                    });
                }
            }
        }
    }

    async fn pipe<R, O>(&mut self, input: R, output: O) -> Result<(), TransportError>
    where
        R: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
    {
        let stream = self.open().await?;
        let (from_server, mut to_server) = tokio::io::split(stream);
        // Large reads each way: a read of standard input is a trip to a blocking thread, and
        // each write to TLS seals records, so 8 KiB at a time (tokio's copy) cost several
        // times the work of the bytes themselves.
        let mut input = BufReader::with_capacity(PIPE_BUFFER, input);
        let mut from_server = BufReader::with_capacity(PIPE_BUFFER, from_server);
        let mut output = BufWriter::with_capacity(PIPE_BUFFER, output);
        let upload = async {
            tokio::io::copy_buf(&mut input, &mut to_server).await?;
            to_server.shutdown().await
        };
        let download = async {
            // tokio's copy writes what it read before reading again, and flushes whenever the
            // reply stops for a while, so nothing waits in the buffer and an end without
            // `close_notify`, as `read_to_end` takes it, loses nothing.
            match tokio::io::copy_buf(&mut from_server, &mut output).await {
                Err(error) if error.kind() != io::ErrorKind::UnexpectedEof => return Err(error),
                _ => {}
            }
            output.flush().await
        };
        let addr = self.peer();
        crate::client::both_ways(upload, download)
            .await
            .map_err(|error| in_words(error, addr))?;
        Ok(())
    }
}

/// Why a request could not be sent: a TLS server that refused the client's certificate has
/// sent an alert saying so before closing, which a read finds; else the socket's error.
async fn why_not_sent<S: AsyncRead + Unpin>(
    stream: &mut S,
    error: io::Error,
    addr: SocketAddr,
) -> TransportError {
    let mut buf = [0; 512];
    let said = timeout(std::time::Duration::from_millis(200), stream.read(&mut buf)).await;
    match said {
        Ok(Err(alert)) if tls_error(&alert).is_some() => in_words(alert, addr),
        _ => in_words(error, addr),
    }
}

/// A connection's failure: TLS's own (an alert after the handshake, as TLS 1.3's server
/// sends when it refuses a client's certificate) in words, else the socket's.
fn in_words(error: io::Error, addr: SocketAddr) -> TransportError {
    if tls_error(&error).is_none() {
        return error.into();
    }
    TransportError::handshake(addr, classify(&error))
}

/// One read of a reply. A TLS peer that closes its connection without TLS's own end of stream
/// (`close_notify`) has still ended its reply: the textbook's protocol needs no more.
async fn read_to_end<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    match stream.read(buf).await {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        read => read,
    }
}

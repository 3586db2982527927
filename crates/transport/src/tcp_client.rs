//! [`TcpClient`]: TCP's client side, a connection per exchange or one for a whole pipe.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use crate::tcp_read::CHUNK;
use crate::{Client, ClientOptions, Reply, ReplyEnd, Tcp, Transport, TransportError};

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
    /// Connects to the first of `addrs` that accepts, keeping the connection for the first
    /// exchange.
    pub(crate) async fn connect(
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<Self, TransportError> {
        let mut client = Self {
            addrs,
            current: 0,
            options,
            ready: None,
        };
        let stream = client.open().await?;
        client.ready = Some((stream, Instant::now()));
        Ok(client)
    }

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

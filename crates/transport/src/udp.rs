//! UDP: one request datagram, one reply datagram; the client side, and binding the server's
//! socket (served by [`UdpServer`] or [`BlockingUdp`](crate::BlockingUdp)).
//!
//! # Error policy
//! A lost datagram is normal for UDP, so the client's answer to silence is to send again, up to
//! its retries, and then to say so. A "port unreachable" from the server's host is final for that
//! address: the next resolved address is tried. On the server, a failure to send one reply
//! concerns that client only and is returned to the caller to log; the socket keeps serving.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::Type;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;
use tokio::time::timeout;
use upcase_proto::{line_message, max_datagram, reply_line};

use crate::client::{Client, ClientOptions, Reply, ReplyEnd};
use crate::error::TransportError;
use crate::udp_server::UdpServer;
use crate::{BoundSocket, Sharing, Transport, Udp, socket};

/// A UDP socket bound to `addr` for the transport `name` (UDP, or QUIC over it).
pub(crate) fn datagram_socket(
    name: &'static str,
    addr: SocketAddr,
    sharing: Sharing,
) -> Result<BoundSocket, TransportError> {
    let socket =
        socket::bound(addr, Type::DGRAM, sharing).map_err(|source| TransportError::Bind {
            transport: name,
            addr,
            source,
        })?;
    Ok(BoundSocket { socket, addr })
}

/// The client's receive buffer holds the largest possible datagram, so that nothing is ever
/// cut short.
const RECV_BUF: usize = 65_536;

impl Transport for Udp {
    const NAME: &'static str = "udp";
    type Server = UdpServer;
    type Client = UdpClient;

    fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError> {
        datagram_socket(Self::NAME, addr, sharing)
    }

    fn listen(&self, bound: BoundSocket) -> Result<UdpServer, TransportError> {
        let socket =
            UdpSocket::from_std(bound.socket.into()).map_err(|source| TransportError::Bind {
                transport: Self::NAME,
                addr: bound.addr,
                source,
            })?;
        Ok(UdpServer::new(socket))
    }

    async fn connect(
        &self,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<UdpClient, TransportError> {
        let first = *addrs.first().ok_or(TransportError::Connect(Vec::new()))?;
        let socket = connected(first).await?;
        Ok(UdpClient {
            socket,
            addrs,
            current: 0,
            options,
            buf: vec![0; RECV_BUF],
        })
    }
}

/// A UDP socket of the right family for `addr`, on a port the system picks, connected to
/// `addr` so that only its datagrams are received and its "port unreachable" is reported.
async fn connected(addr: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    Ok(socket)
}

/// A UDP client.
#[derive(Debug)]
pub struct UdpClient {
    /// A socket connected to `addrs[current]`.
    socket: UdpSocket,
    /// Where the server may be, in the order to try.
    addrs: Vec<SocketAddr>,
    /// The address in use.
    current: usize,
    /// Timeout and retries.
    options: ClientOptions,
    /// Where replies land.
    buf: Vec<u8>,
}

impl UdpClient {
    /// Sends `message` to the current address until a reply comes or the tries run out.
    async fn try_current(&mut self, message: &[u8]) -> Result<Vec<u8>, TransportError> {
        // A reply to an earlier try may have arrived late; it must not pass for this reply.
        while self.socket.try_recv(&mut self.buf).is_ok() {}
        let tries = self.options.retries.saturating_add(1);
        for _ in 0..tries {
            let outcome = match self.socket.send(message).await {
                Ok(_) => timeout(self.options.timeout, self.socket.recv(&mut self.buf)).await,
                Err(error) => Ok(Err(error)),
            };
            match outcome {
                Ok(Ok(n)) => return Ok(self.buf[..n].to_vec()),
                Ok(Err(error)) if error.kind() == io::ErrorKind::ConnectionRefused => {
                    return Err(TransportError::Refused(self.peer()));
                }
                Ok(Err(error)) => return Err(error.into()),
                Err(_elapsed) => continue,
            }
        }
        Err(TransportError::NoReply {
            transport: Udp::NAME,
            addr: self.peer(),
            tries,
            timeout: self.options.timeout,
        })
    }
}

impl Client for UdpClient {
    fn peer(&self) -> SocketAddr {
        self.addrs[self.current]
    }

    async fn exchange_reply(&mut self, message: &[u8]) -> Result<Reply, TransportError> {
        let max = max_datagram(self.peer());
        if message.len() > max {
            return Err(TransportError::MessageTooLarge {
                len: message.len(),
                max,
            });
        }
        loop {
            match self.try_current(message).await {
                Err(TransportError::Refused(_) | TransportError::NoReply { .. })
                    if self.current + 1 < self.addrs.len() =>
                {
                    self.current += 1;
                    self.socket = connected(self.peer()).await?;
                }
                outcome => {
                    return outcome.map(|bytes| Reply {
                        bytes,
                        finished: tokio::time::Instant::now(),
                        end: ReplyEnd::Closed,
                    });
                }
            }
        }
    }

    async fn pipe<R, W>(&mut self, input: R, mut output: W) -> Result<(), TransportError>
    where
        R: AsyncRead + Unpin + Send,
        W: AsyncWrite + Unpin + Send,
    {
        let mut input = BufReader::new(input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            let max = max_datagram(self.peer());
            line.clear();
            // Read at most one byte past the limit (plus the LF), so that a huge line is
            // refused without being held in memory.
            let limit = max as u64 + 2;
            if (&mut input)
                .take(limit)
                .read_until(b'\n', &mut line)
                .await?
                == 0
            {
                return Ok(());
            }
            let message = line_message(&line);
            if message.len() > max {
                let rest = if line.ends_with(b"\n") {
                    0
                } else {
                    skip_line(&mut input).await?
                };
                return Err(TransportError::MessageTooLarge {
                    len: message.len() + rest,
                    max,
                });
            }
            let reply = self.exchange(message).await?;
            out.clear();
            reply_line(&reply, &mut out);
            output.write_all(&out).await?;
            output.flush().await?;
        }
    }
}

/// Reads past the end of the current line, returning how many bytes it had before its LF.
async fn skip_line<R: AsyncBufReadExt + Unpin>(input: &mut R) -> io::Result<usize> {
    let mut skipped = 0;
    loop {
        let buf = input.fill_buf().await?;
        if buf.is_empty() {
            return Ok(skipped);
        }
        let (n, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        input.consume(n);
        skipped += if done { n - 1 } else { n };
        if done {
            return Ok(skipped);
        }
    }
}

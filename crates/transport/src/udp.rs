//! UDP: one request datagram, one reply datagram.
//!
//! # Error policy
//! A lost datagram is normal for UDP, so the client's answer to silence is to send again, up to
//! its retries, and then to say so. A "port unreachable" from the server's host is final for that
//! address: the next resolved address is tried. On the server, a failure to send one reply
//! concerns that client only and is returned to the caller to log; the socket keeps serving.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use socket2::Type;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;
use tokio::time::timeout;
use upcase_proto::{line_message, max_datagram, reply_line};

use crate::batch::{Outbox, Received};
use crate::{
    BoundSocket, Client, ClientOptions, Listener, Peer, PeerKind, Reply, ReplyEnd, Sharing,
    Transport, TransportError, Udp, socket,
};

/// The client's receive buffer holds the largest possible datagram, so that nothing is ever
/// cut short.
const RECV_BUF: usize = 65_536;

impl Transport for Udp {
    const NAME: &'static str = "udp";
    type Listener = UdpListener;
    type Client = UdpClient;

    fn bind_socket(addr: SocketAddr, sharing: Sharing) -> Result<BoundSocket, TransportError> {
        let socket =
            socket::bound(addr, Type::DGRAM, sharing).map_err(|source| TransportError::Bind {
                transport: Self::NAME,
                addr,
                source,
            })?;
        Ok(BoundSocket { socket, addr })
    }

    fn listen(bound: BoundSocket) -> Result<UdpListener, TransportError> {
        let socket =
            UdpSocket::from_std(bound.socket.into()).map_err(|source| TransportError::Bind {
                transport: Self::NAME,
                addr: bound.addr,
                source,
            })?;
        Ok(UdpListener {
            shared: Arc::new(Shared {
                outbox: Outbox::new(&socket),
                socket,
            }),
            received: Received::new(),
        })
    }

    async fn connect(
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

/// A bound UDP server socket. It receives datagrams in batches, and sends the replies to a
/// batch together once all its datagrams have been served (see [`Peer::close`]).
#[derive(Debug)]
pub struct UdpListener {
    /// The socket and the replies waiting on it, shared with the peers.
    shared: Arc<Shared>,
    /// The datagrams of the current batch.
    received: Received,
}

/// What a listener shares with its peers.
#[derive(Debug)]
struct Shared {
    socket: UdpSocket,
    outbox: Outbox,
}

impl Listener for UdpListener {
    type Peer = UdpPeer;
    const KIND: PeerKind = PeerKind::Datagram;

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.shared.socket.local_addr()
    }

    async fn accept(&mut self) -> io::Result<UdpPeer> {
        let Shared { socket, outbox } = &*self.shared;
        if self.received.left() == 0 {
            // Replies of the last batch whose peers were dropped unanswered, or answered out
            // of order, go before waiting for more.
            let _ = outbox.flush(socket).await;
            self.received.fill(socket).await?;
        }
        // Set before the peer exists, so that its close sees whether more of the batch follow.
        outbox.set_pending(self.received.left().saturating_sub(1));
        let (request, addr) = self
            .received
            .pop()
            .ok_or_else(|| io::Error::other("received an empty batch"))?;
        Ok(UdpPeer {
            shared: Arc::clone(&self.shared),
            addr,
            request: request.to_vec(),
            read: false,
            reply: Vec::new(),
        })
    }
}

impl Drop for UdpListener {
    fn drop(&mut self) {
        self.shared.outbox.flush_now(&self.shared.socket);
    }
}

/// One received datagram and the reply being built for it.
#[derive(Debug)]
pub struct UdpPeer {
    /// The server socket and its outbox, to send the reply through.
    shared: Arc<Shared>,
    /// The datagram's source, where the reply goes.
    addr: SocketAddr,
    /// The datagram's payload.
    request: Vec<u8>,
    /// Whether `request` has been handed out by `read`.
    read: bool,
    /// The reply so far.
    reply: Vec<u8>,
}

impl Peer for UdpPeer {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn read(&mut self) -> io::Result<&[u8]> {
        if std::mem::replace(&mut self.read, true) {
            Ok(&[])
        } else {
            Ok(&self.request)
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reply.extend_from_slice(bytes);
        Ok(())
    }

    async fn write_owned(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if self.reply.is_empty() {
            self.reply = bytes;
        } else {
            self.reply.extend_from_slice(&bytes);
        }
        Ok(())
    }

    async fn close(self) -> Result<(), TransportError> {
        let max = max_datagram(self.addr);
        if self.reply.len() > max {
            return Err(TransportError::ReplyTooLarge {
                peer: self.addr,
                len: self.reply.len(),
                max,
            });
        }
        let Shared { socket, outbox } = &*self.shared;
        outbox.push(socket, (self.addr, self.reply)).await?;
        Ok(())
    }
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

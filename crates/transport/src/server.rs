//! The server side of a transport: [`ServerSocket`], and for stream transports, [`Listener`],
//! [`Incoming`] and [`Peer`].
//! A UDP server socket is answered batch by batch instead, through a closure
//! ([`UdpServer`](crate::UdpServer), [`BlockingUdp`](crate::BlockingUdp)).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::accepted::Accepted;
use crate::error::TransportError;

/// A bound server socket of either transport.
pub trait ServerSocket: Send + 'static {
    /// The address the socket is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    /// When the operating system cannot say (it practically always can).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A listening socket of a stream transport, that yields one [`Incoming`] connection at a
/// time.
pub trait Listener: ServerSocket {
    /// What [`accept`](Self::accept) yields.
    type Incoming: Incoming;

    /// Waits for the next connection. This returns as soon as the operating system has one:
    /// whatever the transport does before its first byte (a TLS handshake) is
    /// [`Incoming::start`]'s, on the connection's own task.
    ///
    /// # Errors
    /// The operating system's accept error. Most are transient (too many open files, a
    /// connection reset before it was accepted): log them, wait a moment and accept again.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Incoming>> + Send;
}

/// A connection accepted, not yet started: its address is known, so it can be admitted or
/// refused, and a PROXY header can be read from the [`Accepted`] stream under it, before the
/// transport [`start`](Self::start)s.
pub trait Incoming: Send + 'static {
    /// What the connection is once started.
    type Peer: Peer;

    /// The client's address.
    fn addr(&self) -> SocketAddr;

    /// The TCP connection under the transport, as accepted.
    fn accepted(&mut self) -> &mut Accepted;

    /// The connection started at once, when its transport has nothing to wait for before its
    /// first byte (TCP); else the connection back, for [`start`](Self::start) on a task of its
    /// own. A connection started at once is served by a task that holds only the [`Peer`].
    ///
    /// # Errors
    /// The connection itself, when it needs [`start`](Self::start).
    fn start_now(self) -> Result<Self::Peer, Self>
    where
        Self: Sized,
    {
        Err(self)
    }

    /// Starts the transport on the connection: nothing for TCP, the handshake for TLS.
    ///
    /// # Errors
    /// [`TransportError::Handshake`] when the handshake fails or takes too long.
    fn start(self) -> impl Future<Output = Result<Self::Peer, TransportError>> + Send;
}

/// One client's connection, seen from the server: a stream of chunks each way, with
/// backpressure and half-close.
///
/// Read chunks until an empty one, writing replies as you go, then [`close`](Peer::close).
pub trait Peer: Send + 'static {
    /// The client's address (for a dual-stack socket, an IPv4 client as IPv4).
    fn addr(&self) -> SocketAddr;

    /// The next chunk of the request stream; empty when the client has finished sending.
    ///
    /// # Errors
    /// The connection failed (for example the client reset it).
    fn read(&mut self) -> impl Future<Output = io::Result<&[u8]>> + Send;

    /// Sends `bytes` to the client. This waits until the client has taken the bytes, so that a
    /// client that never reads holds the server back instead of growing its buffers.
    ///
    /// # Errors
    /// The connection failed.
    fn write(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// Ends the exchange: closes the sending side after all bytes are out, then discards what
    /// the client still sends until it closes too (for half a second at most), so that the
    /// connection ends with a clean close rather than a reset.
    ///
    /// # Errors
    /// The socket's error.
    fn close(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;
}

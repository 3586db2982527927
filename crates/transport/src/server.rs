//! The server side of a transport: [`ServerSocket`], and for TCP, [`Listener`] and [`Peer`].
//! A UDP server socket is answered batch by batch instead, through a closure
//! ([`UdpServer`](crate::UdpServer), [`BlockingUdp`](crate::BlockingUdp)).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::TransportError;

/// A bound server socket of either transport.
pub trait ServerSocket: Send + 'static {
    /// The address the socket is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    /// When the operating system cannot say (it practically always can).
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// A listening TCP socket that yields one [`Peer`] per connection.
pub trait Listener: ServerSocket {
    /// What [`accept`](Self::accept) yields.
    type Peer: Peer;

    /// Waits for the next connection.
    ///
    /// # Errors
    /// The operating system's accept error. Most are transient (too many open files, a
    /// connection reset before it was accepted): log them, wait a moment and accept again.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Peer>> + Send;
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

    /// Reads the PROXY protocol header (version 1 or 2) that a load balancer sends before the
    /// client's bytes, and takes the client address it carries as [`addr`](Peer::addr); a
    /// header without one (the balancer's own health check) leaves the address as it was.
    /// Bytes after the header are the first that [`read`](Peer::read) returns.
    ///
    /// # Errors
    /// [`TransportError::ProxyHeader`] when the stream does not start with a valid header.
    fn read_proxy_header(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Ends the exchange: closes the sending side after all bytes are out, then discards what
    /// the client still sends until it closes too (for half a second at most), so that the
    /// connection ends with a clean close rather than a reset.
    ///
    /// # Errors
    /// The socket's error.
    fn close(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send;
}

//! The server side of a transport: [`Listener`] and [`Peer`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use crate::TransportError;

/// What a [`Peer`] is, which decides how a server must treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerKind {
    /// A TCP connection. It may wait on its client for as long as the client likes, so it needs
    /// a task of its own; its source address was proven by the handshake.
    Connection,
    /// A UDP datagram. Its request is already in memory and its reply is one send, so it is
    /// cheapest served in place; its source address is unproven and may be forged.
    Datagram,
}

/// A bound server socket that yields one [`Peer`] per client request stream.
pub trait Listener: Send + 'static {
    /// What [`accept`](Self::accept) yields.
    type Peer: Peer;

    /// What every peer of this listener is.
    const KIND: PeerKind;

    /// The address the socket is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    /// When the operating system cannot say (it practically always can).
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// Waits for the next peer: a new TCP connection, or a UDP datagram.
    ///
    /// # Errors
    /// The operating system's accept or receive error. Most are transient (too many open files, a
    /// connection reset before it was accepted): log them, wait a moment and accept again.
    fn accept(&mut self) -> impl Future<Output = io::Result<Self::Peer>> + Send;
}

/// One client's request stream, seen from the server.
///
/// Read chunks until an empty one, writing replies as you go, then [`close`](Peer::close).
pub trait Peer: Send + 'static {
    /// The client's address (for a dual-stack socket, IPv4 clients appear as `::ffff:a.b.c.d`).
    fn addr(&self) -> SocketAddr;

    /// The next chunk of the request stream; empty when the client has finished sending.
    ///
    /// # Errors
    /// For TCP, the connection failed (for example the client reset it).
    fn read(&mut self) -> impl Future<Output = io::Result<&[u8]>> + Send;

    /// Sends `bytes` to the client, or for UDP adds them to the reply. For TCP this waits until
    /// the client has taken the bytes, so that a client that never reads holds the server back
    /// instead of growing its buffers.
    ///
    /// # Errors
    /// For TCP, the connection failed.
    fn write(&mut self, bytes: &[u8]) -> impl Future<Output = io::Result<()>> + Send;

    /// [`write`](Peer::write) for bytes the caller is done with, which a UDP peer takes as its
    /// reply without copying them.
    ///
    /// # Errors
    /// As for [`write`](Peer::write).
    fn write_owned(&mut self, bytes: Vec<u8>) -> impl Future<Output = io::Result<()>> + Send {
        async move { self.write(&bytes).await }
    }

    /// Reads the PROXY protocol header (version 1 or 2) that a load balancer sends before the
    /// client's bytes, and takes the client address it carries as [`addr`](Peer::addr); a
    /// header without one (the balancer's own health check) leaves the address as it was.
    /// Bytes after the header are the first that [`read`](Peer::read) returns.
    ///
    /// # Errors
    /// [`TransportError::ProxyHeader`] when the stream does not start with a valid header; UDP
    /// has no such header.
    fn read_proxy_header(&mut self) -> impl Future<Output = Result<(), TransportError>> + Send {
        let peer = self.addr();
        async move {
            Err(TransportError::ProxyHeader {
                peer,
                reason: "the PROXY protocol is for TCP connections".into(),
            })
        }
    }

    /// Ends the exchange: TCP closes its sending side after all bytes are out, then discards
    /// what the client still sends until it closes too (for half a second at most), so that the
    /// connection ends with a clean close rather than a reset; UDP sends the reply datagram, or,
    /// while datagrams received with it are still to be served, queues it to leave with theirs
    /// in one system call once the last of them is closed, or when the listener is next
    /// awaited or is dropped.
    ///
    /// # Errors
    /// [`TransportError::ReplyTooLarge`] when a UDP reply does not fit in one datagram (nothing is
    /// sent: a truncated reply would be wrong); otherwise the socket's error.
    fn close(self) -> impl Future<Output = Result<(), TransportError>> + Send;
}

#![doc = include_str!("../README.md")]
//!
//! The server and the client pick a transport once, from `--udp` or `--tcp`. Each transport
//! serves in the shape that fits it:
//!
//! | side   | TCP ([`Tcp`])                                         | UDP ([`Udp`])                                          |
//! |--------|-------------------------------------------------------|--------------------------------------------------------|
//! | server | a [`Listener`] of connections; a [`Peer`] is a stream of chunks until EOF | a batch of datagrams answered through one closure: a [`Datagram`] (source, destination, payload) in, a reply or none out, sent from the datagram's destination |
//! | client | an exchange is a connection, closed for writing       | an exchange is a datagram, retried until a reply      |
//!
//! # Using a transport
//! On the server side, [`Transport::bind`] an address (print
//! [`ServerSocket::local_addr`] if you bound port 0), then:
//! - TCP: loop on [`Listener::accept`], and serve each [`Peer`] on a task of its own, since a
//!   connection may wait on its client: [`Peer::read`] chunks until an empty one,
//!   [`Peer::write`] the replies as you go, and [`Peer::close`] at the end.
//! - UDP: loop on [`UdpServer::answer_batch`], whose closure gives each datagram's
//!   [`Answer`]; [`UdpServer::unsent`] names the replies that did not leave. On
//!   Linux a UDP socket can instead be served by a thread of its own, with no runtime:
//!   [`BlockingUdp`] has the same `answer_batch`, and costs one `recvmmsg` and one `sendmmsg`
//!   per batch.
//!
//! On the client side, [`Transport::connect`] to the resolved addresses, then call
//! [`Client::exchange`] for each whole message, or [`Client::pipe`] once to stream a whole input.
//!
//! ```
//! use upcase_proto::{Builtin, Transformer};
//! use upcase_transport::{
//!     Client, ClientOptions, Incoming, Listener, Peer, ServerSocket, Tcp, Transport,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), upcase_transport::TransportError> {
//! let mut listener = Tcp.bind("127.0.0.1:0".parse().unwrap()).await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let mut peer = listener.accept().await?.start().await?;
//!     let mut stream = Transformer::new(Builtin::Upper);
//!     let mut out = Vec::new();
//!     loop {
//!         out.clear();
//!         let chunk = peer.read().await?;
//!         if chunk.is_empty() {
//!             stream.finish(&mut out);
//!             peer.write(&out).await?;
//!             return peer.close().await;
//!         }
//!         stream.feed(chunk, &mut out).expect("upper has no lines to limit");
//!         peer.write(&out).await?;
//!     }
//! });
//! let mut client = Tcp.connect(vec![addr], ClientOptions::default()).await?;
//! assert_eq!(client.exchange(b"hello").await?, b"HELLO");
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//! - `lib.rs`: the [`Transport`] trait and the names of [`Tcp`] and [`Udp`].
//! - `server.rs`: the server side's traits: [`ServerSocket`], and a stream transport's
//!   [`Listener`], [`Incoming`] and [`Peer`].
//! - `accepted.rs`: [`Accepted`], a TCP connection before its transport starts, where the PROXY
//!   header is read for every transport over TCP.
//! - `client.rs`: the client side, [`Client`] and [`ClientOptions`].
//! - `handshake.rs`: [`Handshake`], what a client's TLS handshake agreed.
//! - `pool.rs`: the one pool of read and reply buffers per thread; [`ReplyBuf`], a reply's.
//! - `gso.rs`: [`gso`], the limits of a segmented UDP send, for the server and its clients alike.
//! - `proxy.rs`: the PROXY protocol header that load balancers send first, versions 1 and 2.
//! - `resolve.rs`: [`resolve`], host names to the addresses to try.
//! - `socket.rs`: building listening sockets (dual-stack, address reuse, [`Sharing`]) with
//!   socket2.
//! - `tcp.rs`: TCP's server side: binding, [`TcpListener`], [`TcpPeer`], and how a
//!   connection's chunks are read, with the fast paths of short requests (`read_now`).
//! - `wire.rs`: [`Wire`], a stream connection driven by hand, as a load generator drives many;
//!   `tls_wire.rs`: [`TlsWire`], TLS driven so, rustls taken apart from its socket.
//! - `stream_client.rs`: [`StreamClient`], the client of every transport over TCP, and
//!   [`Wrap`], what a transport does to each connection first ([`TcpClient`]: nothing).
//! - `rewind.rs`: a connection whose first bytes, read past a PROXY header, are read again.
//! - `tls.rs`: [`Tls`], the transport value, and the client's configuration.
//! - `quic.rs`: [`Quic`], the transport value: QUIC on quinn, an exchange per stream.
//! - `quic_server.rs`: [`QuicListener`], [`QuicIncoming`], [`QuicConnection`], [`QuicStream`].
//! - `quic_client.rs`: [`QuicClient`], one connection kept, a stream per exchange.
//! - `quic_failure.rs`: a failed QUIC handshake by kind, from the TLS alert it carries.
//! - `tls_provider.rs`: the one crypto provider (*ring*) and the versions offered.
//! - `tls_files.rs`: PEM certificates, keys and CAs, each refusal naming its file.
//! - `tls_keys.rs`: [`TlsKeys`], TLS's and QUIC's server configurations from the same files,
//!   replaceable while serving.
//! - `tls_server.rs`: [`TlsListener`], [`TlsIncoming`], [`TlsPeer`].
//! - `tls_client.rs`: [`TlsWrap`], the client's handshake, and `--insecure`'s verifier.
//! - `tls_deadline.rs`: a handshake on either side under its deadline.
//! - `tls_failure.rs`: [`HandshakeFailure`], why a handshake failed, by kind and in words.
//! - `udp.rs`: UDP's client, and binding its server socket.
//! - `batch.rs`: the one synchronous core of a UDP server: a `Batch` received, each datagram
//!   handed to the closure that gives its reply, the replies sent, many to a system call
//!   (`batch/linux.rs`: recvmmsg, sendmmsg, segmentation offload where the kernel has it, and
//!   each datagram's [`Destination`] by `IP_PKTINFO`, which its reply leaves from).
//! - `udp_server.rs`: [`UdpServer`], the batch driven by the event loop.
//! - `blocking_udp.rs`: [`BlockingUdp`], the batch driven by a thread of its own that sleeps in
//!   `recvmmsg`, with no event loop (Linux).
//! - `operator_file.rs`: [`read_operator_file`], a file an operator names (a certificate, a
//!   key, a config file) read so that a FIFO or a device cannot block or exhaust the reader.
//! - `error.rs`: [`TransportError`]; `describe.rs`: [`describe`], an I/O error in words.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::future::Future;
use std::net::SocketAddr;

mod accepted;
mod batch;
#[cfg(target_os = "linux")]
mod blocking_udp;
mod client;
mod describe;
mod error;
pub mod gso;
mod handshake;
mod operator_file;
mod pool;
mod proxy;
mod quic;
mod quic_client;
mod quic_failure;
mod quic_server;
mod resolve;
mod rewind;
mod server;
mod socket;
mod stream_client;
mod tcp;
mod tls;
mod tls_client;
mod tls_deadline;
mod tls_failure;
mod tls_files;
mod tls_keys;
mod tls_provider;
mod tls_server;
mod tls_wire;
mod udp;
mod udp_server;
mod wire;

pub use accepted::Accepted;
#[cfg(target_os = "linux")]
pub use batch::{Answer, Datagram, Destination, Unsent, Why};
pub use blocking_udp::{BlockingUdp, UdpStopper};
pub use client::{Client, ClientOptions, DEFAULT_MAX_REPLY, Reply, ReplyEnd};
pub use describe::describe;
pub use error::{Attempt, TransportError};
pub use handshake::Handshake;
pub use operator_file::{FileProblem, read_operator_file};
pub use pool::ReplyBuf;
pub use quic::{DEFAULT_MAX_STREAMS, Quic, QuicClientParts};
pub use quic_client::QuicClient;
pub use quic_server::{QuicConnection, QuicIncoming, QuicListener, QuicStream};
pub use resolve::{parse_host, resolve};
pub use server::{Incoming, Listener, Peer, ServerSocket};
pub use stream_client::{Plain, StreamClient, TcpClient, Wrap, Wrapped};
pub use tcp::{TcpListener, TcpPeer};
pub use tls::{DEFAULT_HANDSHAKE_TIMEOUT, TLS_PORT, Tls, TlsClient, TlsClientOptions};
pub use tls_client::TlsWrap;
pub use tls_failure::HandshakeFailure;
pub use tls_files::TlsFileError;
pub use tls_keys::{ALPN, TlsKeys, TlsServerFiles};
pub use tls_server::{TlsIncoming, TlsListener, TlsPeer};
pub use tls_wire::TlsWire;
pub use udp::UdpClient;
pub use udp_server::{BatchError, UdpServer};
pub use wire::Wire;

/// How much one read may take from a connection, for every transport's reads, server's and
/// client's alike.
pub(crate) const CHUNK: usize = 16 * 1024;

/// A way to carry upcase messages: [`Udp`], [`Tcp`] or [`Tls`]. A transport is a value, made
/// once at the top with whatever it needs (TLS's certificates, keys and server name), and
/// everything below takes it as it is. See the crate docs for how to use one.
pub trait Transport: Send + Sync + 'static {
    /// The transport's name as users write it: `"udp"`, `"tcp"` or `"tls"`.
    const NAME: &'static str;
    /// The server side: a bound socket, served as the transport's shape asks (a [`Listener`]
    /// for a stream transport, a [`UdpServer`] for UDP).
    type Server: ServerSocket;
    /// The client side: a way to exchange messages with one server.
    type Client: Client;

    /// Binds a server socket to `addr`. An unspecified IPv6 address (`::`) is bound dual-stack,
    /// so that it also takes IPv4 clients.
    ///
    /// # Errors
    /// [`TransportError::Bind`] when the address is in use, not local, or not permitted.
    fn bind(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = Result<Self::Server, TransportError>> + Send {
        async move { self.listen(self.bind_socket(addr, Sharing::Exclusive)?) }
    }

    /// Binds a server socket to `addr` (listening, for a stream transport) without tying it to
    /// a runtime, so that it can be handed to the thread that will serve it; see
    /// [`listen`](Self::listen).
    ///
    /// # Errors
    /// As for [`bind`](Self::bind).
    fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError>;

    /// Serves a socket from [`bind_socket`](Self::bind_socket) on the runtime of the calling
    /// thread, which must be inside one.
    ///
    /// # Errors
    /// [`TransportError::Bind`] when the runtime cannot take the socket;
    /// [`TransportError::NotConfigured`] for a transport made for clients only.
    fn listen(&self, socket: BoundSocket) -> Result<Self::Server, TransportError>;

    /// Prepares to talk to the server at the first of `addrs` that answers; the others are
    /// tried in order when one fails.
    ///
    /// # Errors
    /// For a stream transport, [`TransportError::Connect`] when no address accepts a
    /// connection, [`TransportError::Handshake`] when TLS's handshake fails.
    fn connect(
        &self,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> impl Future<Output = Result<Self::Client, TransportError>> + Send;
}

/// Whether other sockets may bind the same address and port, to share its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// The port is this socket's alone: binding fails if anything holds it.
    Exclusive,
    /// `SO_REUSEPORT`: sockets bound so, by the same user, share the port, and the kernel
    /// spreads clients between them by their address, so that each worker thread of a server
    /// has a socket of its own. Binding fails if an exclusive socket holds the port.
    Shared,
}

/// A server socket bound by [`Transport::bind_socket`], not yet served by any runtime.
#[derive(Debug)]
pub struct BoundSocket {
    socket: socket2::Socket,
    /// The address asked for, for error messages.
    addr: SocketAddr,
}

impl BoundSocket {
    /// A listening TCP socket made elsewhere: inherited from systemd or inetd.
    ///
    /// # Errors
    /// When the socket cannot be made non-blocking or has no address.
    pub fn from_tcp_listener(listener: std::net::TcpListener) -> std::io::Result<Self> {
        Self::inherited(listener.into())
    }

    /// A bound UDP socket made elsewhere: inherited from systemd or inetd.
    ///
    /// # Errors
    /// As for [`from_tcp_listener`](Self::from_tcp_listener).
    pub fn from_udp_socket(socket: std::net::UdpSocket) -> std::io::Result<Self> {
        Self::inherited(socket.into())
    }

    fn inherited(socket: socket2::Socket) -> std::io::Result<Self> {
        socket.set_nonblocking(true)?;
        let addr = socket
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("the socket is not an IP socket"))?;
        Ok(Self { socket, addr })
    }

    /// The address the socket is bound to, with the real port when port 0 was asked for.
    ///
    /// # Errors
    /// When the operating system cannot say.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        socket::local_addr(&self.socket)
    }
}

/// TCP: a connection carries a byte stream, transformed as it arrives.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tcp;

/// UDP: each request datagram gets one reply datagram.
#[derive(Debug, Clone, Copy, Default)]
pub struct Udp;

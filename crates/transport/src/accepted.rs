//! [`Accepted`]: a stream connection as the listening socket gave it, before any transport
//! starts on it. The PROXY protocol header a balancer sends first is read here, once for
//! every transport that runs over TCP, before a TLS handshake or anything else.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::error::TransportError;
use crate::proxy::{self, Parsed};

/// A TCP connection just accepted: its stream, its client's address, and the bytes read past a
/// PROXY header, which belong to whatever the transport runs over it.
#[derive(Debug)]
pub struct Accepted {
    pub(crate) stream: TcpStream,
    pub(crate) addr: SocketAddr,
    pub(crate) carried: Vec<u8>,
    /// Whether a PROXY header was read, so that the next bytes are not waiting yet.
    pub(crate) header_read: bool,
}

impl Accepted {
    pub(crate) fn new(stream: TcpStream, addr: SocketAddr) -> Self {
        Self {
            stream,
            // An IPv4 client of a dual-stack socket comes as `::ffff:a.b.c.d`; it is an IPv4
            // client, and logs and limits should say so.
            addr: SocketAddr::new(addr.ip().to_canonical(), addr.port()),
            carried: Vec::new(),
            header_read: false,
        }
    }

    /// A connection accepted elsewhere (by inetd, for one), served as if this side had
    /// accepted it. Must be called inside a runtime.
    ///
    /// # Errors
    /// When the connection has no peer address (it is closed) or the runtime cannot take it.
    pub fn from_std(stream: std::net::TcpStream) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        let addr = stream.peer_addr()?;
        Ok(Self::new(TcpStream::from_std(stream)?, addr))
    }

    /// The client's address: the direct peer's, or the one its PROXY header named.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reads the PROXY protocol header (version 1 or 2) that a load balancer sends before the
    /// client's bytes, and takes the client address it carries as [`addr`](Self::addr); a
    /// header without one (the balancer's own health check) leaves the address as it was.
    /// Bytes after the header are kept for the transport.
    ///
    /// # Errors
    /// [`TransportError::ProxyHeader`] when the stream does not start with a valid header.
    pub async fn read_proxy_header(&mut self) -> Result<(), TransportError> {
        let peer = self.addr;
        let fail = |reason: String| TransportError::ProxyHeader { peer, reason };
        let mut header = Vec::new();
        let mut chunk = [0; 512];
        loop {
            match proxy::parse(&header) {
                Parsed::Header { len, client } => {
                    if let Some(client) = client {
                        self.addr = client;
                    }
                    self.carried = header.split_off(len);
                    self.header_read = true;
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
}

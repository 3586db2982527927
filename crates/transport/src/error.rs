//! [`TransportError`]: what can go wrong on the network.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use crate::describe::describe;
use crate::tls_failure::Diagnosis;

/// An error of a transport, server side or client side.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A connection did not start with a valid PROXY protocol header.
    #[error("no valid PROXY protocol header from {peer}: {reason}")]
    ProxyHeader {
        /// The connection's address (the balancer's).
        peer: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// The server socket could not be bound.
    #[error("cannot listen on {transport} {addr}: {}", describe(.source))]
    Bind {
        /// The transport's name: `"udp"`, `"tcp"`, `"tls"`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// Why the operating system refused.
        source: io::Error,
    },
    /// A host name did not resolve.
    #[error("cannot resolve host `{host}`: {reason}")]
    Resolve {
        /// The name given.
        host: String,
        /// Why.
        reason: String,
    },
    /// No address accepted a TCP connection.
    #[error("cannot connect over tcp to {}", attempts(.0))]
    Connect(Vec<Attempt>),
    /// The server's host said that nothing listens on its UDP port.
    #[error("nothing listens on udp {0} (port unreachable)")]
    Refused(SocketAddr),
    /// No reply came in time.
    #[error("no reply from {transport} {addr} after {tries} {}, waiting {} each", plural(*.tries, "try", "tries"), show_duration(.timeout))]
    NoReply {
        /// `"tcp"` or `"udp"`.
        transport: &'static str,
        /// The server.
        addr: SocketAddr,
        /// How many times the request was sent.
        tries: u32,
        /// How long each try waited.
        timeout: Duration,
    },
    /// A reply longer than the client keeps ([`ClientOptions::max_reply`](crate::ClientOptions::max_reply)).
    #[error("the reply from {addr} went past {max} bytes, the most kept of one reply")]
    ReplyTooLong {
        /// The server.
        addr: SocketAddr,
        /// The limit.
        max: usize,
    },
    /// A UDP message larger than one datagram can carry.
    #[error("message of {len} bytes does not fit in a UDP datagram ({max} at most)")]
    MessageTooLarge {
        /// The message's size.
        len: usize,
        /// The limit for the server's address family.
        max: usize,
    },
    /// A UDP reply that would not fit in one datagram, so was not sent.
    #[error(
        "reply of {len} bytes to {peer} does not fit in a UDP datagram ({max} at most); dropped"
    )]
    ReplyTooLarge {
        /// The client.
        peer: SocketAddr,
        /// The reply's size.
        len: usize,
        /// The limit for the client's address family.
        max: usize,
    },
    /// A TLS handshake failed or took too long.
    #[error("TLS handshake with {addr} failed: {detail}")]
    Handshake {
        /// The other side.
        addr: SocketAddr,
        /// The kind of failure.
        failure: crate::tls_failure::HandshakeFailure,
        /// What went wrong, in words.
        detail: String,
    },
    /// A certificate, key or CA file that cannot be used.
    #[error(transparent)]
    TlsFile(#[from] crate::tls_files::TlsFileError),
    /// A name for `--servername` that is neither a host name nor an IP address.
    #[error("`{0}` is not a server name (a host name or an IP address)")]
    ServerName(String),
    /// A TLS configuration that cannot be made.
    #[error("TLS: {0}")]
    Tls(String),
    /// A transport value made for one side only, used for the other.
    #[error("this {transport} transport has no {side} configuration")]
    NotConfigured {
        /// The transport's name.
        transport: &'static str,
        /// `server` or `client`.
        side: &'static str,
    },
    /// A socket, or the input or output of a pipe, failed.
    #[error("{}", describe(.0))]
    Io(#[from] io::Error),
}

impl TransportError {
    /// The failure of the handshake with `addr`, as `diagnosis` says it.
    pub(crate) fn handshake(addr: SocketAddr, diagnosis: Diagnosis) -> Self {
        TransportError::Handshake {
            addr,
            failure: diagnosis.failure,
            detail: diagnosis.detail,
        }
    }
}

/// One address tried, and why it did not take the connection.
#[derive(Debug)]
pub struct Attempt {
    /// The address.
    pub addr: SocketAddr,
    /// What the system said.
    pub error: io::Error,
}

fn attempts(list: &[Attempt]) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|Attempt { addr, error }| format!("{addr} ({})", describe(error)))
        .collect();
    each.join(", ")
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

fn show_duration(duration: &Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

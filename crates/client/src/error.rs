//! [`ClientError`]: why the client stopped, what to do about it, and its exit code.

use std::io;

use upcase_transport::{TransportError, describe};

/// Why `upcase client` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve host `{host}`: {reason}; check the name given to --host")]
    Resolve {
        /// The name given.
        host: String,
        /// Why.
        reason: String,
    },
    /// The message cannot be sent the way it was asked for.
    #[error("{0}; use --tcp")]
    TooLarge(TransportError),
    /// The server could not be reached, did not answer, or broke the connection.
    #[error("{error}{}", hint(.error))]
    Network {
        /// What went wrong.
        error: TransportError,
    },
    /// The flags ask for something the mode cannot do.
    #[error("{0}")]
    Usage(String),
    /// Not one probe of `--count` was answered.
    #[error("no reply to any of {count} probes to {server}; is the server running there?")]
    NoReplies {
        /// Probes sent.
        count: u64,
        /// Where they went.
        server: String,
    },
    /// A message's reply did not arrive whole within `--max-time` of its start.
    #[error(
        "the reply did not arrive whole within --max-time {}; the server may be trickling it",
        humantime::format_duration(*.max_time)
    )]
    MaxTime {
        /// The deadline.
        max_time: std::time::Duration,
    },
    /// Probes whose replies were not what the server should have answered.
    #[error(
        "{wrong} of {received} replies were wrong: not the message in upper case, nor an echo of it"
    )]
    WrongReplies {
        /// Replies that were wrong.
        wrong: u64,
        /// Replies in all.
        received: u64,
    },
    /// The server closed the connection without a byte of reply to a message that was not
    /// empty.
    #[error("{server} closed the connection without replying")]
    EmptyReply {
        /// The server.
        server: std::net::SocketAddr,
    },
    /// A plain client's request was answered with a TLS alert: the port speaks TLS.
    #[error("{server} answered in TLS (an alert record): it is a TLS port; add --tls")]
    TlsPort {
        /// The server.
        server: std::net::SocketAddr,
    },
    /// Standard input could not be read.
    #[error("cannot read standard input: {}", describe(.0))]
    Input(io::Error),
    /// Standard output could not be written (other than by its reader going away).
    #[error("cannot write standard output: {}", describe(.0))]
    Output(io::Error),
}

impl ClientError {
    /// The process exit code: 2 for a message that cannot be sent as asked (a usage error),
    /// 1 for everything the network or the system did.
    pub fn exit_code(&self) -> u8 {
        match self {
            ClientError::TooLarge(_) | ClientError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl From<TransportError> for ClientError {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::MessageTooLarge { .. } => ClientError::TooLarge(error),
            error => ClientError::Network { error },
        }
    }
}

/// What to try next, after the error itself.
fn hint(error: &TransportError) -> &'static str {
    match error {
        TransportError::Connect(_) => "; is the server running, with TCP on, at that port?",
        TransportError::Refused(_) => "; is the server running, with UDP on, at that port?",
        TransportError::NoReply {
            transport: "udp", ..
        } => {
            "; is the server running there, and is the path open to UDP? If the reply could be \
             larger than one datagram (upper case can grow text), use --tcp"
        }
        TransportError::NoReply { .. } => "; raise --timeout if the server is slow",
        _ => "",
    }
}

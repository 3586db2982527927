//! The client side of a transport: [`Client`] and its [`ClientOptions`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::TransportError;

/// How long to wait, and how often to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to wait for a TCP connection, a UDP reply, or the next bytes of a TCP reply.
    pub timeout: Duration,
    /// How many times a UDP request is sent again when no reply comes within `timeout`.
    pub retries: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            retries: 3,
        }
    }
}

/// A client of one upcase server, made by [`Transport::connect`](crate::Transport::connect).
pub trait Client: Send {
    /// The server address in use now.
    fn peer(&self) -> SocketAddr;

    /// Sends one whole message and returns its whole reply.
    ///
    /// Over TCP each exchange is a connection: the message is sent, the sending side closed, and
    /// the reply read until the server closes. If the server goes quiet for
    /// [`ClientOptions::timeout`] after some reply has come, that is taken as the whole reply.
    /// Over UDP the message is one datagram, sent again up to [`ClientOptions::retries`] times.
    ///
    /// # Errors
    /// [`TransportError::MessageTooLarge`] for a UDP message over the datagram limit;
    /// [`TransportError::NoReply`], [`TransportError::Refused`] or [`TransportError::Connect`]
    /// when no server answers; [`TransportError::Io`] when a connection fails midway.
    fn exchange(
        &mut self,
        message: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;

    /// Sends all of `input` and writes the replies to `output` as they come, until `input` ends
    /// and every reply is in. Over TCP the input is one stream, sent and received at once so
    /// that neither side ever waits on the other; over UDP each line is one datagram and each
    /// reply is written as a line, in order.
    ///
    /// # Errors
    /// As for [`exchange`](Self::exchange); [`TransportError::Io`] when reading `input` or
    /// writing `output` fails.
    fn pipe<R, W>(
        &mut self,
        input: R,
        output: W,
    ) -> impl Future<Output = Result<(), TransportError>> + Send
    where
        R: AsyncRead + Unpin + Send,
        W: AsyncWrite + Unpin + Send;
}

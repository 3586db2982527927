//! The client side of a transport: [`Client`] and its [`ClientOptions`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::error::TransportError;

/// How long to wait, and how often to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOptions {
    /// How long to wait for a TCP connection, a UDP reply, or the next bytes of a TCP reply.
    pub timeout: Duration,
    /// How many times a UDP request is sent again when no reply comes within `timeout`.
    pub retries: u32,
    /// The most bytes of one reply an exchange keeps: a server that sends without end must not
    /// fill the client's memory. A longer reply is [`TransportError::ReplyTooLong`].
    pub max_reply: usize,
}

/// [`ClientOptions::max_reply`] unless told otherwise: far more than any reply to a message
/// that fits on a command line (a reply is at most three times its request).
pub const DEFAULT_MAX_REPLY: usize = 16 * 1024 * 1024;

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            retries: 3,
            max_reply: DEFAULT_MAX_REPLY,
        }
    }
}

/// One whole reply, from [`Client::exchange_reply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The reply's bytes.
    pub bytes: Vec<u8>,
    /// When its last byte came (or, for an empty reply, when the server closed): the end of
    /// the round trip, even when the client waited on after it.
    pub finished: Instant,
    /// How the reply ended.
    pub end: ReplyEnd,
}

/// How a reply was known to be whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyEnd {
    /// The server closed the connection, or the reply was one datagram.
    Closed,
    /// The server sent some reply, then nothing more for [`ClientOptions::timeout`] without
    /// closing: it may be whole (some echo servers wait for the client to close first) or cut
    /// short.
    Quiet,
}

/// A client of one upcase server, made by [`Transport::connect`](crate::Transport::connect).
pub trait Client: Send {
    /// The server address in use now.
    fn peer(&self) -> SocketAddr;

    /// What the last connection's TLS handshake agreed, and how long it took: `None` for a
    /// transport without one.
    fn handshake(&self) -> Option<&crate::handshake::Handshake> {
        None
    }

    /// Sends one whole message and returns its whole reply, with when and how it ended.
    ///
    /// Over TCP each exchange is a connection: the message is sent, the sending side closed, and
    /// the reply read until the server closes. If the server goes quiet for
    /// [`ClientOptions::timeout`] after some reply has come, that is taken as the whole reply
    /// ([`ReplyEnd::Quiet`]). Over UDP the message is one datagram, sent again up to
    /// [`ClientOptions::retries`] times.
    ///
    /// # Errors
    /// [`TransportError::MessageTooLarge`] for a UDP message over the datagram limit;
    /// [`TransportError::NoReply`], [`TransportError::Refused`] or [`TransportError::Connect`]
    /// when no server answers; [`TransportError::ReplyTooLong`] past
    /// [`ClientOptions::max_reply`]; [`TransportError::Io`] when a connection fails midway.
    fn exchange_reply(
        &mut self,
        message: &[u8],
    ) -> impl Future<Output = Result<Reply, TransportError>> + Send;

    /// [`exchange_reply`](Self::exchange_reply), for the reply's bytes alone.
    ///
    /// # Errors
    /// As for [`exchange_reply`](Self::exchange_reply).
    fn exchange(
        &mut self,
        message: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send {
        async move { self.exchange_reply(message).await.map(|reply| reply.bytes) }
    }

    /// Ends the conversation where the transport has a way to say so: QUIC tells the server
    /// the connection is over, which it would otherwise learn only at its idle timeout (a
    /// process that exits takes TCP's connections down with it, but not QUIC's).
    fn finish(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }

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

/// A pipe's two directions at once, `upload` (standard input to the server) and `download`
/// (the server's replies out): done when the replies end. Sending everything before reading
/// would deadlock once the replies fill the buffers; and a server that ends the exchange
/// first (its idle timeout, a limit) ends the pipe with it, instead of leaving the client
/// waiting on an input that may never say more.
pub(crate) async fn both_ways<E>(
    upload: impl Future<Output = Result<(), E>>,
    download: impl Future<Output = Result<(), E>>,
) -> Result<(), E> {
    tokio::pin!(upload, download);
    tokio::select! {
        sent = &mut upload => {
            sent?;
            download.await
        }
        received = &mut download => received,
    }
}

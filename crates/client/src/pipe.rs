//! The pipe mode: standard input streamed through the server to standard output, the replies
//! written as they come, by the transport's one pipe ([`Client::pipe`]): over TCP, TLS and
//! QUIC one connection both ways at once, over UDP a datagram a line. The ends are the
//! process's own descriptors ([`crate::stdio`]); their failures are told apart from the
//! network's, and a reader that goes away (`| head -1`) is a normal end.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use upcase_transport::{Client, TransportError};

use crate::error::ClientError;
use crate::output::Show;
use crate::stdio::{RawStdin, RawStdout};
use crate::visible::Visible;

/// Streams standard input through `client` to standard output, shown as `show` says.
///
/// # Errors
/// [`ClientError::Input`] or [`ClientError::Output`] when an end fails, else the network's.
pub(crate) async fn pipe<C: Client>(client: &mut C, show: Show) -> Result<(), ClientError> {
    let piped = client.pipe(Stdin::default(), Stdout::new(show)).await;
    piped.map_err(|error| match error {
        TransportError::Io(io) => match unmark(io) {
            Ok(StdioError::Input(error)) => ClientError::Input(error),
            Ok(StdioError::Output(error)) => ClientError::Output(error),
            Err(io) => TransportError::Io(io).into(),
        },
        error => error.into(),
    })
}

/// An end's failure, marked inside an [`io::Error`] that passes through the transport, which
/// knows nothing of it.
#[derive(Debug, thiserror::Error)]
enum StdioError {
    #[error("{}", upcase_transport::describe(.0))]
    Input(io::Error),
    #[error("{}", upcase_transport::describe(.0))]
    Output(io::Error),
}

/// The end's own error, if `error` is one; otherwise `error` as it was.
fn unmark(error: io::Error) -> Result<StdioError, io::Error> {
    if !error
        .get_ref()
        .is_some_and(|inner| inner.is::<StdioError>())
    {
        return Err(error);
    }
    let kind = error.kind();
    match error
        .into_inner()
        .map(|inner| inner.downcast::<StdioError>())
    {
        Some(Ok(marked)) => Ok(*marked),
        // Not reached after the check above; keep what there is rather than panic.
        Some(Err(inner)) => Err(io::Error::new(kind, inner)),
        None => Err(kind.into()),
    }
}

/// Standard input for the pipe mode, whose errors come out marked as its own.
#[derive(Debug, Default)]
struct Stdin(RawStdin);

impl tokio::io::AsyncRead for Stdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0)
            .poll_read(cx, buf)
            .map_err(|error| io::Error::other(StdioError::Input(error)))
    }
}

/// Standard output for the pipe mode, whose errors come out marked as its own; on a terminal,
/// with control characters made visible.
struct Stdout {
    out: RawStdout,
    /// With [`Show::Visible`]: the stream of replies made visible, and what of it is not yet
    /// written.
    shown: Option<(Visible, Vec<u8>)>,
}

impl Stdout {
    fn new(show: Show) -> Self {
        Stdout {
            out: RawStdout::default(),
            shown: (show == Show::Visible).then(|| (Visible::default(), Vec::new())),
        }
    }

    /// Writes what is waiting of the visible stream.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some((_, pending)) = &mut self.shown else {
            return Poll::Ready(Ok(()));
        };
        while !pending.is_empty() {
            match Pin::new(&mut self.out).poll_write(cx, pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    pending.drain(..n);
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

fn mark<T>(poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
    poll.map_err(|error| io::Error::other(StdioError::Output(error)))
}

impl AsyncWrite for Stdout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.shown.is_none() {
            return mark(Pin::new(&mut this.out).poll_write(cx, buf));
        }
        // What is shown may be longer than what came: taken whole, written as room comes.
        match mark(this.poll_pending(cx)) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some((visible, pending)) = &mut this.shown {
            visible.feed(buf, pending);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match mark(this.poll_pending(cx)) {
            Poll::Ready(Ok(())) => mark(Pin::new(&mut this.out).poll_flush(cx)),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some((visible, pending)) = &mut this.shown {
            visible.finish(pending);
        }
        match mark(this.poll_pending(cx)) {
            Poll::Ready(Ok(())) => mark(Pin::new(&mut this.out).poll_shutdown(cx)),
            other => other,
        }
    }
}

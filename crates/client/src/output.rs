//! Standard output for the client. A reader that goes away (`upcase client | head -1`) is a
//! normal end, not an error, so a broken pipe here is told apart from one on the network.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use upcase_transport::{Reply, ReplyEnd};

use crate::error::ClientError;

/// Marks an error as standard output's, inside an [`io::Error`] that passes through code that
/// knows nothing of it.
#[derive(Debug, thiserror::Error)]
#[error("{}", upcase_transport::describe(.0))]
pub(crate) struct OutputError(pub(crate) io::Error);

/// Writes `bytes` to standard output, its failure the client's [`ClientError::Output`].
pub(crate) fn write_out(stdout: &mut Out, bytes: &[u8]) -> Result<(), ClientError> {
    stdout.print(bytes).map_err(ClientError::Output)
}

/// `value` as one line of JSON. serde_json escapes C0 controls; DEL and the C1 controls
/// (which a terminal may act on, U+009B being CSI) are escaped here too, as JSON allows, so
/// that a reply quoted in a report can steer no terminal.
pub(crate) fn json_line(value: &impl serde::Serialize) -> String {
    // Serializing plain structs of numbers and strings cannot fail; say so if it ever does.
    let json = serde_json::to_string(value)
        .unwrap_or_else(|error| format!("{{\"error\":\"cannot write JSON: {error}\"}}"));
    let mut line = String::with_capacity(json.len() + 1);
    for c in json.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            line.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            line.push(c);
        }
    }
    line.push('\n');
    line
}

/// How replies are shown on standard output: as they are, or with control characters made
/// visible (see `visible.rs`), chosen once from `--raw` and whether stdout is a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Show {
    /// Byte for byte: a pipe, a file, or `--raw`.
    Raw,
    /// Control characters shown as `cat -v` shows them: a terminal.
    Visible,
}

impl Show {
    pub(crate) fn choose(raw: bool) -> Self {
        use std::io::IsTerminal;
        if raw || !io::stdout().is_terminal() {
            Show::Raw
        } else {
            Show::Visible
        }
    }

    /// `reply` as it is to be shown, appended to `out`.
    pub(crate) fn append(self, reply: &[u8], out: &mut Vec<u8>) {
        match self {
            Show::Raw => out.extend_from_slice(reply),
            Show::Visible => crate::visible::visible(reply, out),
        }
    }
}

/// Standard output for the modes that print a line at a time: written at once, on the calling
/// thread. tokio's stdout would hand each write to a thread of its own, which a one-shot run
/// would start only for that.
pub(crate) struct Out;

impl Out {
    /// Writes `bytes` and flushes them.
    pub(crate) fn print(&mut self, bytes: &[u8]) -> io::Result<()> {
        use std::io::Write;
        let mut stdout = io::stdout().lock();
        stdout.write_all(bytes)?;
        stdout.flush()
    }
}

/// Standard output for the UDP pipe mode, whose errors come out as [`OutputError`]; on a
/// terminal, with control characters made visible.
pub(crate) struct Stdout {
    out: tokio::io::Stdout,
    /// With [`Show::Visible`]: the stream of replies made visible, and what of it is not yet
    /// written.
    shown: Option<(crate::visible::Visible, Vec<u8>)>,
}

impl Stdout {
    pub(crate) fn new(show: Show) -> Self {
        Stdout {
            out: tokio::io::stdout(),
            shown: (show == Show::Visible)
                .then(|| (crate::visible::Visible::default(), Vec::new())),
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
    poll.map_err(|error| io::Error::other(OutputError(error)))
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

/// Standard output's own error, if `error` is one of [`Stdout`]'s; otherwise `error` as it was.
pub(crate) fn unmark(error: io::Error) -> Result<io::Error, io::Error> {
    if !error
        .get_ref()
        .is_some_and(|inner| inner.is::<OutputError>())
    {
        return Err(error);
    }
    let kind = error.kind();
    match error
        .into_inner()
        .map(|inner| inner.downcast::<OutputError>())
    {
        Some(Ok(marked)) => Ok(marked.0),
        // Not reached after the check above; keep what there is rather than panic.
        Some(Err(inner)) => Err(io::Error::new(kind, inner)),
        None => Err(kind.into()),
    }
}

/// Says on stderr that `reply` ended because the server went quiet without closing.
pub(crate) fn note_quiet(reply: &Reply, server: SocketAddr) {
    if reply.end == ReplyEnd::Quiet {
        // A note beside the reply, not a failure: a stderr that cannot take it loses nothing.
        let _ = writeln!(
            std::io::stderr(),
            "upcase: {server} sent {} bytes, then nothing more for --timeout and did not \
             close; the reply may be cut short",
            reply.bytes.len()
        );
    }
}

/// A warning on stderr, beside the run: a stderr that cannot take it loses nothing.
pub(crate) fn warn(message: &str) {
    let _ = writeln!(std::io::stderr(), "upcase: warning: {message}");
}

//! Standard output for the client. A reader that goes away (`upcase client | head -1`) is a
//! normal end, not an error, so a broken pipe here is told apart from one on the network.

use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use upcase_transport::{Reply, ReplyEnd};

use crate::ClientError;

/// Marks an error as standard output's, inside an [`io::Error`] that passes through code that
/// knows nothing of it.
#[derive(Debug, thiserror::Error)]
#[error("{}", upcase_transport::describe(.0))]
pub(crate) struct OutputError(pub(crate) io::Error);

/// Writes `bytes` to standard output, its failure the client's [`ClientError::Output`].
pub(crate) fn write_out(stdout: &mut Out, bytes: &[u8]) -> Result<(), ClientError> {
    stdout.print(bytes).map_err(ClientError::Output)
}

/// `value` as one line of JSON.
pub(crate) fn json_line(value: &impl serde::Serialize) -> String {
    // Serializing plain structs of numbers and strings cannot fail; say so if it ever does.
    let mut line = serde_json::to_string(value)
        .unwrap_or_else(|error| format!("{{\"error\":\"cannot write JSON: {error}\"}}"));
    line.push('\n');
    line
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

/// Standard output for the UDP pipe mode, whose errors come out as [`OutputError`].
pub(crate) struct Stdout(tokio::io::Stdout);

impl Stdout {
    pub(crate) fn new() -> Self {
        Stdout(tokio::io::stdout())
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
        mark(Pin::new(&mut self.0).poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        mark(Pin::new(&mut self.0).poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        mark(Pin::new(&mut self.0).poll_shutdown(cx))
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

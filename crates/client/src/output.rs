//! Standard output for the client. A reader that goes away (`upcase client | head -1`) is a
//! normal end, not an error, so a broken pipe here is told apart from one on the network.

use std::io::{self, Write as _};
use std::net::SocketAddr;

use upcase_transport::{Reply, ReplyEnd};

use crate::error::ClientError;

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

//! [`LogWriter`]: standard error for the log, where a line that cannot be written is dropped.
//!
//! A server's stderr is often a pipe to a log collector that can go away, or a file on a disk
//! that can fill. Neither may stop the service: a log line that cannot be written is counted
//! ([`dropped_log_lines`], and `upcase_log_lines_dropped_total` in the metrics) and the server
//! goes on. tracing's own writer reports a failed write with `eprintln!`, which panics on the
//! same broken stderr; this one never returns an error.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// Log lines that could not be written, since the process started.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// How many log lines could not be written to stderr so far.
pub fn dropped_log_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Standard error, for `tracing_subscriber`'s `with_writer(LogWriter::stderr)`: each write
/// succeeds, and one that the system refused is counted as a dropped line.
#[derive(Debug)]
pub struct LogWriter(io::Stderr);

impl LogWriter {
    /// The process's standard error.
    pub fn stderr() -> Self {
        Self(io::stderr())
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // tracing writes each line with one `write_all`: a line is dropped whole or written
        // whole, unless the system takes a part of it and then fails.
        if self.0.write_all(buf).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

/// Writes `text` and a newline to stderr for the operator (the counters on SIGUSR1): like a log
/// line, it is dropped and counted if stderr cannot take it.
pub(crate) fn say(text: &str) {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    let _ = LogWriter::stderr().write(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_always_succeeds_with_the_whole_line() {
        let mut writer = LogWriter::stderr();
        assert_eq!(writer.write(b"upcase: a test line\n").ok(), Some(20));
        assert!(writer.flush().is_ok());
    }
}

//! [`Sink`]: where each interval of a run goes as it ends: a line on stdout (`--interval`),
//! the progress line on stderr, and the `--hlog` file; and the printing both share.

use std::io::Write;
use std::time::{Duration, SystemTime};

use crate::error::BenchError;
use crate::hlog::Hlog;
use crate::hlog_meta::EndLine;
use crate::report::IntervalLine;
use crate::run::{Interval, REST};

/// Where intervals go.
pub(crate) struct Sink {
    /// `--interval`: a line each on stdout, as text or JSON; else the progress line.
    pub(crate) lines: bool,
    pub(crate) json: bool,
    /// Whether stderr is a terminal, for the progress line to overwrite itself.
    pub(crate) terminal: bool,
    pub(crate) length: Duration,
    pub(crate) hlog: Option<Hlog>,
    /// The first failure to write, kept for after the run: the run itself goes on.
    pub(crate) error: Option<BenchError>,
}

impl Sink {
    /// Takes one interval of a load that began at `began`.
    pub(crate) fn take(&mut self, interval: &Interval, began: SystemTime) {
        if let Some(hlog) = &mut self.hlog
            && let Err(error) = hlog.interval(interval, began, self.length)
        {
            self.error.get_or_insert(error);
            self.hlog = None;
        }
        if interval.index == REST {
            return;
        }
        let line = IntervalLine::new(interval, self.length.as_secs_f64());
        if !self.lines {
            progress(&line, self.terminal);
            return;
        }
        let text = if self.json {
            json(&line)
        } else {
            line.to_string()
        };
        if let Err(error) = print_line(&text) {
            self.error.get_or_insert(error);
        }
    }

    /// Ends the progress line, and the log with `end`; the first failure to write, if any.
    pub(crate) fn finish(self, end: &EndLine) -> Result<(), BenchError> {
        if !self.lines && self.terminal {
            let _ = writeln!(std::io::stderr());
        }
        if let Some(error) = self.error {
            return Err(error);
        }
        self.hlog.map_or(Ok(()), |hlog| hlog.finish(end))
    }
}

pub(crate) fn json(value: &impl serde::Serialize) -> String {
    // Our reports are plain numbers and strings, which serialize without fail.
    serde_json::to_string(value).unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}

/// One line on stdout. A reader that went away (`| head -1`) is not a failure: the run goes
/// on, and its verdict still sets the exit code.
pub(crate) fn print_line(text: &str) -> Result<(), BenchError> {
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(BenchError::Output(error))
        }
        _ => Ok(()),
    }
}

/// The progress line on stderr: over itself on a terminal, a line each otherwise. Progress is
/// for a person watching: a stderr that cannot take it loses nothing.
fn progress(line: &IntervalLine, terminal: bool) {
    let secs = line.end_s;
    let rate = line.replies_per_second;
    let _ = if terminal {
        write!(std::io::stderr(), "\r{secs:>4}s  {rate:>10.0} replies/s ")
    } else {
        writeln!(
            std::io::stderr(),
            "upcase bench: {secs}s, {rate:.0} replies/s"
        )
    };
}

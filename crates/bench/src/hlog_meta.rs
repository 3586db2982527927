//! What an `--hlog` file says besides its histograms, in comment lines that HdrHistogram's
//! readers skip: the run ([`RunLine`]), each interval's counts ([`CountsLine`]) and the run's end
//! ([`EndLine`]). A histogram holds the good replies; what was sent, lost or wrong, and the
//! schedule's shortfall, live here, so that `upcase bench merge` can add those up as well.
//!
//! Each is one line, `#[upcase-KIND: key=value …]`, written and read by the same code.

use std::collections::HashMap;
use std::fmt;

use crate::share::Share;

/// The run a log is of.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunLine {
    pub(crate) transport: String,
    pub(crate) server: String,
    pub(crate) conns: u32,
    pub(crate) window: u32,
    pub(crate) size: u32,
    pub(crate) reconnect: bool,
    pub(crate) threads: usize,
    /// Connections, sockets or (with `--reconnect`) slots: the schedule's workers.
    pub(crate) workers: usize,
    /// The interval's length, in seconds.
    pub(crate) interval_s: f64,
    /// `--rate`: requests a second asked of all the generators sharing it.
    pub(crate) rate: Option<f64>,
    /// `--share`: this generator's share of that rate.
    pub(crate) share: Option<Share>,
}

/// One interval's counts beside its histogram; `start_s` as the histogram's, from the log's base
/// time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CountsLine {
    pub(crate) start_s: f64,
    pub(crate) sent: u64,
    pub(crate) lost: u64,
    pub(crate) wrong: u64,
}

/// The end of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EndLine {
    /// How long the load was on, warm-up aside.
    pub(crate) seconds: f64,
    pub(crate) unsent: u64,
    pub(crate) behind_ms: f64,
    pub(crate) handshakes: u64,
    pub(crate) resumed: u64,
}

impl fmt::Display for RunLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#[upcase-run: transport={} server={} conns={} window={} size={} reconnect={} \
             threads={} workers={} interval={}",
            self.transport,
            self.server,
            self.conns,
            self.window,
            self.size,
            self.reconnect,
            self.threads,
            self.workers,
            self.interval_s
        )?;
        if let Some(rate) = self.rate {
            write!(f, " rate={rate}")?;
        }
        if let Some(share) = self.share {
            write!(f, " share={share}")?;
        }
        f.write_str("]")
    }
}

impl fmt::Display for CountsLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#[upcase-interval: start={:.6} sent={} lost={} wrong={}]",
            self.start_s, self.sent, self.lost, self.wrong
        )
    }
}

impl fmt::Display for EndLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "#[upcase-end: seconds={:.6} unsent={} behind_ms={:.3} handshakes={} resumed={}]",
            self.seconds, self.unsent, self.behind_ms, self.handshakes, self.resumed
        )
    }
}

/// One of the lines above, read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetaLine {
    Run(RunLine),
    Counts(CountsLine),
    End(EndLine),
}

impl MetaLine {
    /// The line read, `None` for any other line, or why a line of ours is broken.
    pub(crate) fn parse(line: &str) -> Option<Result<MetaLine, String>> {
        let body = line
            .trim_end()
            .strip_prefix("#[upcase-")?
            .strip_suffix(']')?;
        let (kind, rest) = body.split_once(": ")?;
        let fields = Fields::of(rest);
        Some(match kind {
            "run" => fields.run().map(MetaLine::Run),
            "interval" => fields.counts().map(MetaLine::Counts),
            "end" => fields.end().map(MetaLine::End),
            other => Err(format!("an unknown line `upcase-{other}`")),
        })
    }
}

/// A line's `key=value` pairs.
struct Fields<'a>(HashMap<&'a str, &'a str>);

impl<'a> Fields<'a> {
    fn of(text: &'a str) -> Self {
        Fields(
            text.split_whitespace()
                .filter_map(|pair| pair.split_once('='))
                .collect(),
        )
    }

    fn text(&self, key: &str) -> Result<&'a str, String> {
        self.0
            .get(key)
            .copied()
            .ok_or_else(|| format!("no `{key}`"))
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        let text = self.text(key)?;
        text.parse()
            .map_err(|_| format!("`{key}={text}` is not a number"))
    }

    fn optional<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, String> {
        match self.0.get(key) {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| format!("`{key}={text}` cannot be read")),
        }
    }

    fn run(&self) -> Result<RunLine, String> {
        let interval_s: f64 = self.number("interval")?;
        if !(interval_s.is_finite() && interval_s > 0.0) {
            return Err(format!("`interval={interval_s}` is no interval"));
        }
        Ok(RunLine {
            transport: self.text("transport")?.to_owned(),
            server: self.text("server")?.to_owned(),
            conns: self.number("conns")?,
            window: self.number("window")?,
            size: self.number("size")?,
            reconnect: self.number("reconnect")?,
            threads: self.number("threads")?,
            workers: self.number("workers")?,
            interval_s,
            rate: self.optional("rate")?,
            share: self.optional("share")?,
        })
    }

    fn counts(&self) -> Result<CountsLine, String> {
        let start_s: f64 = self.number("start")?;
        if !start_s.is_finite() {
            return Err(format!("`start={start_s}` is no time"));
        }
        Ok(CountsLine {
            start_s,
            sent: self.number("sent")?,
            lost: self.number("lost")?,
            wrong: self.number("wrong")?,
        })
    }

    fn end(&self) -> Result<EndLine, String> {
        Ok(EndLine {
            seconds: self.number("seconds")?,
            unsent: self.number("unsent")?,
            behind_ms: self.number("behind_ms")?,
            handshakes: self.number("handshakes")?,
            resumed: self.number("resumed")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_reads_back_as_written() {
        let run = RunLine {
            transport: "udp".into(),
            server: "[::1]:12000".into(),
            conns: 4,
            window: 2,
            size: 64,
            reconnect: false,
            threads: 2,
            workers: 4,
            interval_s: 0.5,
            rate: Some(3000.0),
            share: Some(Share { index: 2, of: 3 }),
        };
        let counts = CountsLine {
            start_s: 1.5,
            sent: 10,
            lost: 1,
            wrong: 0,
        };
        let end = EndLine {
            seconds: 3.0,
            unsent: 2,
            behind_ms: 1.25,
            handshakes: 0,
            resumed: 0,
        };
        let read = |line: String| MetaLine::parse(&line).and_then(Result::ok);
        assert_eq!(read(run.to_string()), Some(MetaLine::Run(run)));
        assert_eq!(read(counts.to_string()), Some(MetaLine::Counts(counts)));
        assert_eq!(read(end.to_string()), Some(MetaLine::End(end)));
        assert_eq!(
            MetaLine::parse("#[StartTime: 1.0 (seconds since epoch)]"),
            None
        );
        assert!(MetaLine::parse("#[upcase-interval: start=1 sent=x]").is_some_and(|r| r.is_err()));
        assert!(
            MetaLine::parse("#[upcase-run: transport=udp interval=0]").is_some_and(|r| r.is_err())
        );
    }
}

//! [`Log`]: an interval log read back, for `upcase bench merge`: its histograms by interval, on
//! the wall clock, and the lines `upcase bench --hlog` adds. Any HdrHistogram interval log
//! reads (Java's `HistogramLogWriter` writes the same format); one without our lines gives its
//! histograms alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

use crate::error::BenchError;
use crate::hlog_meta::{CountsLine, EndLine, MetaLine, RunLine};
use crate::tally::histogram;

/// One interval of one log.
#[derive(Debug)]
pub(crate) struct Logged {
    /// When it started, in seconds since the epoch.
    pub(crate) start_s: f64,
    pub(crate) length_s: f64,
    pub(crate) latency: Histogram<u64>,
    pub(crate) uncorrected: Option<Histogram<u64>>,
    pub(crate) counts: Option<CountsLine>,
}

/// A log, read.
#[derive(Debug)]
pub(crate) struct Log {
    pub(crate) path: PathBuf,
    /// Its generators' tags (one, for a log of `upcase bench`).
    pub(crate) tags: Vec<String>,
    /// When its intervals are counted from, in seconds since the epoch.
    pub(crate) base_s: f64,
    pub(crate) run: Option<RunLine>,
    pub(crate) end: Option<EndLine>,
    /// By start, in milliseconds from the base (as the log writes it).
    pub(crate) intervals: BTreeMap<i64, Logged>,
}

impl Log {
    /// Reads the log at `path`.
    ///
    /// # Errors
    /// [`BenchError::Log`] when it cannot be read, or is not an interval log.
    pub(crate) fn read(path: &Path) -> Result<Log, BenchError> {
        let bad = |reason: String| BenchError::Log {
            path: path.to_owned(),
            reason,
        };
        let text = read_bounded(path).map_err(&bad)?;
        let mut log = Log {
            path: path.to_owned(),
            tags: Vec::new(),
            base_s: 0.0,
            run: None,
            end: None,
            intervals: BTreeMap::new(),
        };
        let counts = log.lines(&text).map_err(&bad)?;
        log.histograms(&text).map_err(&bad)?;
        for line in counts {
            let key = millis(line.start_s);
            let base_s = log.base_s;
            log.intervals
                .entry(key)
                .or_insert_with(|| empty(base_s + line.start_s))
                .counts = Some(line);
        }
        if log.intervals.is_empty() {
            return Err(bad("no interval in it".into()));
        }
        Ok(log)
    }

    /// Takes our own lines; the counts, to be matched with their intervals.
    fn lines(&mut self, text: &str) -> Result<Vec<CountsLine>, String> {
        let mut counts = Vec::new();
        for (number, line) in text.lines().enumerate() {
            match MetaLine::parse(line) {
                None => {}
                Some(Err(why)) => return Err(format!("line {}: {why}", number + 1)),
                Some(Ok(MetaLine::Run(run))) => self.run = Some(run),
                Some(Ok(MetaLine::Counts(line))) => counts.push(line),
                Some(Ok(MetaLine::End(end))) => self.end = Some(end),
            }
        }
        Ok(counts)
    }

    /// Takes the histograms, and the times they count from.
    fn histograms(&mut self, text: &str) -> Result<(), String> {
        let (mut start, mut base) = (None, None);
        let mut entries = Vec::new();
        for entry in IntervalLogIterator::new(text.as_bytes()) {
            match entry {
                Ok(LogEntry::StartTime(at)) => start = Some(at.as_secs_f64()),
                Ok(LogEntry::BaseTime(at)) => base = Some(at.as_secs_f64()),
                Ok(LogEntry::Interval(interval)) => entries.push((
                    interval.tag().map(|tag| tag.as_str().to_owned()),
                    interval.start_timestamp().as_secs_f64(),
                    interval.duration().as_secs_f64(),
                    decode(interval.encoded_histogram())?,
                )),
                Err(error) => return Err(format!("not an HdrHistogram interval log ({error:?})")),
            }
        }
        self.base_s = base.or(start).unwrap_or(0.0);
        for (tag, start_s, length_s, decoded) in entries {
            self.add(tag.unwrap_or_default(), start_s, length_s, &decoded)?;
        }
        Ok(())
    }

    fn add(
        &mut self,
        tag: String,
        start_s: f64,
        length_s: f64,
        decoded: &Histogram<u64>,
    ) -> Result<(), String> {
        let uncorrected = tag.ends_with("-uncorrected");
        if !uncorrected && !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        let base_s = self.base_s;
        let interval = self
            .intervals
            .entry(millis(start_s))
            .or_insert_with(|| empty(base_s + start_s));
        interval.length_s = interval.length_s.max(length_s);
        let into = if uncorrected {
            interval.uncorrected.get_or_insert_with(histogram)
        } else {
            &mut interval.latency
        };
        into.add(decoded)
            .map_err(|_| "a histogram holds values beyond a minute, or below a nanosecond".into())
    }
}

/// The most a log may hold: a day of a run's histograms, ten an interval a second, is a few
/// hundred megabytes; past this, the file is not a log (or `/dev/zero`).
const LARGEST: u64 = 1 << 30;

/// The file's text, if it is text and no larger than [`LARGEST`].
fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| upcase_transport::describe(&e))?;
    let mut text = String::new();
    file.take(LARGEST + 1)
        .read_to_string(&mut text)
        .map_err(|e| upcase_transport::describe(&e))?;
    if text.len() as u64 > LARGEST {
        return Err(format!(
            "larger than {} MiB: no interval log",
            LARGEST >> 20
        ));
    }
    Ok(text)
}

/// An interval with nothing in it yet, that started at `start_s`.
fn empty(start_s: f64) -> Logged {
    Logged {
        start_s,
        length_s: 0.0,
        latency: histogram(),
        uncorrected: None,
        counts: None,
    }
}

/// A time from the base in whole milliseconds, as the log writes a histogram's.
fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

fn decode(encoded: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|error| format!("a histogram that is not base64 ({error})"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|error| format!("a histogram that cannot be read ({error:?})"))
}

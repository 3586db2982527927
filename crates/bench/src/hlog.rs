//! [`Hlog`]: `--hlog FILE`, the run's latencies as HdrHistogram's interval log, the format of
//! Java's `HistogramLogWriter`: a histogram an interval, V2-compressed and base64-encoded,
//! after a `StartTime` and `BaseTime` by the wall clock, so that logs from several machines can
//! be added up interval by interval. Values are nanoseconds; each generator's histograms carry
//! a tag of their own, and with `--rate` the uncorrected latencies another.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::error::BenchError;
use crate::hlog_meta::{CountsLine, EndLine, RunLine};
use crate::run::{Interval, REST};

/// The log being written.
pub(crate) struct Hlog {
    out: BufWriter<File>,
    path: PathBuf,
    serializer: V2DeflateSerializer,
    /// This generator's tag; its uncorrected histograms add `-uncorrected`.
    tag: String,
    /// The run, said in the header.
    run: RunLine,
    /// Whether the header is out.
    begun: bool,
    /// Whole intervals written so far: the rest starts after them.
    whole: u32,
}

impl Hlog {
    /// Creates `path`, empty, before the load starts, so that a file that cannot be written
    /// stops the run before it sends anything.
    pub(crate) fn create(path: &Path, run: RunLine) -> Result<Self, BenchError> {
        let file = File::create(path).map_err(|error| failed(path, error))?;
        Ok(Self {
            out: BufWriter::new(file),
            path: path.to_owned(),
            serializer: V2DeflateSerializer::new(),
            tag: generator_tag(),
            run,
            begun: false,
            whole: 0,
        })
    }

    /// Writes `interval`, of `length`, of a load that began at `began`; the rest after the last
    /// whole interval is as long as it took until now.
    pub(crate) fn interval(
        &mut self,
        interval: &Interval,
        began: SystemTime,
        length: Duration,
    ) -> Result<(), BenchError> {
        self.write(interval, began, length)
            .map_err(|error| failed(&self.path, error))
    }

    /// Ends the log with `end`, and flushes it.
    pub(crate) fn finish(mut self, end: &EndLine) -> Result<(), BenchError> {
        writeln!(self.out, "{end}")
            .and_then(|()| self.out.flush())
            .map_err(|error| failed(&self.path, error))
    }

    fn write(
        &mut self,
        interval: &Interval,
        began: SystemTime,
        length: Duration,
    ) -> io::Result<()> {
        if !self.begun {
            self.header(began)?;
        }
        let tally = &interval.tally;
        let (start, duration) = if interval.index == REST {
            let start = length * self.whole;
            (
                start,
                began.elapsed().unwrap_or_default().saturating_sub(start),
            )
        } else {
            self.whole = u32::try_from(interval.index).unwrap_or(u32::MAX);
            (length * (self.whole - 1), length)
        };
        let counts = CountsLine {
            start_s: start.as_secs_f64(),
            sent: tally.sent,
            lost: tally.lost,
            wrong: tally.wrong,
        };
        let nothing = counts.sent + counts.lost + counts.wrong == 0 && tally.latency.is_empty();
        if interval.index == REST && nothing {
            return Ok(());
        }
        writeln!(self.out, "{counts}")?;
        let uncorrected = format!("{}-uncorrected", self.tag);
        self.histogram(&tally.latency, start, duration, &self.tag.clone())?;
        if let Some(histogram) = &tally.uncorrected {
            self.histogram(histogram, start, duration, &uncorrected)?;
        }
        Ok(())
    }

    fn header(&mut self, began: SystemTime) -> io::Result<()> {
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment("upcase bench: round trips in nanoseconds, from each request's due time")
            .add_comment("(tagged -uncorrected: from each request's actual send, with --rate)")
            .add_comment("(lines #[upcase-...] hold the run, and the counts the histograms do not)")
            .with_start_time(began)
            .with_base_time(began);
        builder.begin_log_with(&mut self.out, &mut self.serializer)?;
        writeln!(self.out, "{}", self.run)?;
        writeln!(
            self.out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        self.begun = true;
        Ok(())
    }

    fn histogram(
        &mut self,
        histogram: &Histogram<u64>,
        start: Duration,
        duration: Duration,
        tag: &str,
    ) -> io::Result<()> {
        let mut writer =
            IntervalLogWriterBuilder::new().begin_log_with(&mut self.out, &mut self.serializer)?;
        writer
            .write_histogram(histogram, start, duration, Tag::new(tag))
            .map_err(|error| io::Error::other(format!("{error:?}")))
    }
}

/// This generator's tag: its host's name, and its process, so that logs merged from several
/// generators, even on one host, say whose each interval was.
fn generator_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let host = if host.is_empty() {
        "upcase-bench".to_owned()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

fn failed(path: &Path, error: io::Error) -> BenchError {
    BenchError::File {
        flag: "--hlog".into(),
        path: path.to_owned(),
        error,
    }
}

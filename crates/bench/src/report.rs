//! [`Report`]: what a load run measured, as text or JSON; and the line of each interval.

use std::fmt;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::run::Interval;

/// Latency percentiles of the good replies, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// The slowest.
    pub max_us: f64,
}

impl Latency {
    pub(crate) fn of(histogram: &Histogram<u64>) -> Self {
        let us = |q: f64| at_quantile(histogram, q) as f64 / 1000.0;
        Self {
            p50_us: us(0.5),
            p90_us: us(0.9),
            p99_us: us(0.99),
            p999_us: us(0.999),
            max_us: histogram.max() as f64 / 1000.0,
        }
    }
}

/// The value at quantile `q` as HdrHistogram's reference implementation (Java's, and Python's
/// after it) takes it: the sample at rank q·n rounded to the nearest, where the Rust crate
/// rounds up. The two differ by one sample at most, which on a bucket's edge is a different
/// value: the same convention lets any reader of `--hlog` find the report's percentiles.
pub(crate) fn at_quantile(histogram: &Histogram<u64>, q: f64) -> u64 {
    let total = histogram.len();
    if total == 0 {
        return 0;
    }
    let rank = (q * total as f64 + 0.5).floor().max(1.0);
    // Half a sample below the rank, so that the crate's rounding up lands on it exactly.
    histogram.value_at_quantile((rank - 0.5) / total as f64)
}

/// `count` a second over `seconds`; none over no time.
pub(crate) fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// How an open-loop run kept to its schedule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Rate {
    /// Requests a second asked for (of this generator, with `--share`).
    pub asked: f64,
    /// With `--share`: which share, of what whole rate, like `"2/3 of 3000/s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// Requests a second sent.
    pub achieved: f64,
    /// Requests whose time came before the end but that were never sent.
    pub unsent: u64,
    /// How far behind its schedule the furthest connection was at the end, in milliseconds.
    pub behind_ms: f64,
    /// Whether every request was sent (within one a connection) by the end.
    pub reached: bool,
}

/// TLS handshakes made during a run with a connection per request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Handshakes {
    /// Whether sessions were resumed (`--resume`), or each handshake was meant to be full.
    pub resume: bool,
    /// Full handshakes: certificate, key exchange and signature.
    pub full: u64,
    /// Handshakes that resumed a session from a ticket.
    pub resumed: u64,
    /// Handshakes a second of load.
    pub per_second: f64,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// `"tcp"`, `"udp"`, `"tls"` or `"quic"`; merged logs of several, joined by `+`.
    pub transport: String,
    /// The server's address.
    pub server: String,
    /// Connections or sockets.
    pub conns: u32,
    /// Requests in flight on each.
    pub window: u32,
    /// Bytes per request.
    pub size: u32,
    /// Whether each TCP or TLS request had a connection of its own.
    pub reconnect: bool,
    /// Threads that made the load.
    pub threads: usize,
    /// How long the load was on: from when every connection was set up to the end of
    /// `--duration` (or, with `--requests`, to the last reply).
    pub seconds: f64,
    /// Replies that answered their request.
    pub replies: u64,
    /// Replies per second of load.
    pub replies_per_second: f64,
    /// Requests whose reply never came.
    pub lost: u64,
    /// Replies that did not answer their request.
    pub wrong: u64,
    /// Round-trip times of the good replies; with `--rate`, from when each request was due.
    pub latency: Latency,
    /// With `--rate`: round-trip times from when each request was actually sent.
    pub uncorrected_latency: Option<Latency>,
    /// With `--rate`: how the run kept to its schedule.
    pub rate: Option<Rate>,
    /// Over TLS with `--reconnect`: the handshakes, full and resumed.
    pub handshakes: Option<Handshakes>,
    /// With `--slo`: each objective, what was measured, and whether it held.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slo: Vec<SloCheck>,
    /// From `upcase bench merge`: the logs added up, and how they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// What `upcase bench merge` added up.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Merged {
    /// How many logs.
    pub logs: usize,
    /// Each log's generator (its tag: host and process).
    pub generators: Vec<String>,
    /// How the logs' runs differ (transport, server, size, interval, shares), a sentence each;
    /// empty when they were runs of one kind.
    pub differ: Vec<String>,
}

impl Report {
    /// How the requests went: a connection each, and what the handshakes were, or nothing.
    fn pattern(&self) -> &'static str {
        match (&self.handshakes, self.reconnect) {
            (Some(Handshakes { resume: true, .. }), _) => {
                ", a connection per request, resuming TLS sessions"
            }
            (Some(_), _) => ", a connection per request, each a full TLS handshake",
            (None, true) => ", a connection per request",
            (None, false) => "",
        }
    }

    /// The logs a merged report was added up from, and how they differ.
    fn fmt_merged(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(merged) = &self.merged {
            writeln!(
                f,
                "merged {} logs: {}",
                merged.logs,
                merged.generators.join(", ")
            )?;
            for difference in &merged.differ {
                writeln!(f, "the logs differ: {difference}")?;
            }
        }
        Ok(())
    }

    /// The open loop's schedule: asked, sent, and whether it held.
    fn fmt_rate(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(rate) = &self.rate {
            write!(f, "rate: {:.0}/s asked", rate.asked)?;
            if let Some(share) = &rate.share {
                write!(f, " (share {share})")?;
            }
            write!(f, ", {:.0}/s sent", rate.achieved)?;
            if rate.reached {
                writeln!(f)?;
            } else if rate.unsent == 0 {
                // Merged logs short of a share: every generator kept to its own schedule.
                writeln!(f, "; the asked rate was not reached")?;
            } else {
                writeln!(
                    f,
                    "; the asked rate was not reached: {} requests never sent, {:.1} ms behind the schedule at the end",
                    rate.unsent, rate.behind_ms
                )?;
            }
        }
        Ok(())
    }
}

/// One objective checked: as written, what was measured, and whether it held.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SloCheck {
    /// The objective as written.
    pub expr: String,
    /// The measured value, in the objective's unit (microseconds for latencies).
    pub measured: f64,
    /// Whether it held.
    pub ok: bool,
}

impl fmt::Display for SloCheck {
    /// `slo broken: EXPR (measured VALUE)`, the value in the objective's own terms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.expr.trim_start();
        let value = if first.starts_with('p') || first.starts_with("max") {
            format!("{:.1}µs", self.measured)
        } else if first.starts_with("rate") {
            format!("{:.4}", self.measured)
        } else {
            format!("{}", self.measured)
        };
        let state = if self.ok { "met" } else { "broken" };
        write!(f, "slo {state}: {} (measured {value})", self.expr)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = self.pattern();
        let threads = match self.threads {
            1 => "1 thread".to_owned(),
            n => format!("{n} threads"),
        };
        self.fmt_merged(f)?;
        writeln!(
            f,
            "{} to {}: {} × window {}, {}-byte requests{pattern}, {threads}, {:.1}s",
            self.transport, self.server, self.conns, self.window, self.size, self.seconds
        )?;
        self.fmt_rate(f)?;
        writeln!(
            f,
            "replies: {} ({:.0}/s), lost {}, wrong {}",
            self.replies, self.replies_per_second, self.lost, self.wrong
        )?;
        if let Some(shakes) = &self.handshakes {
            writeln!(
                f,
                "handshakes: {} full, {} resumed ({:.0}/s)",
                shakes.full, shakes.resumed, shakes.per_second
            )?;
        }
        let corrected = if self.rate.is_some() {
            " (from each request's scheduled time)"
        } else {
            ""
        };
        write!(f, "latency{corrected}: {}", Percentiles(&self.latency))?;
        if let Some(uncorrected) = &self.uncorrected_latency {
            write!(
                f,
                "\nuncorrected latency (from each actual send): {}",
                Percentiles(uncorrected)
            )?;
        }
        for check in self.slo.iter().filter(|check| !check.ok) {
            write!(f, "\n{check}")?;
        }
        Ok(())
    }
}

struct Percentiles<'a>(&'a Latency);

impl fmt::Display for Percentiles<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let l = self.0;
        write!(
            f,
            "p50 {:.1}µs, p90 {:.1}µs, p99 {:.1}µs, p99.9 {:.1}µs, max {:.1}µs",
            l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
        )
    }
}

/// One interval as printed: a line of text, or a JSON object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IntervalLine {
    /// Seconds from the start of the load to the interval's start.
    pub start_s: f64,
    /// ... and to its end.
    pub end_s: f64,
    /// Good replies in the interval.
    pub replies: u64,
    /// Good replies a second.
    pub replies_per_second: f64,
    /// Requests counted lost in the interval.
    pub lost: u64,
    /// Wrong replies in the interval.
    pub wrong: u64,
    /// Median latency of the interval's replies, in microseconds.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

impl IntervalLine {
    pub(crate) fn new(interval: &Interval, length_s: f64) -> Self {
        let tally = &interval.tally;
        let us = |q: f64| at_quantile(&tally.latency, q) as f64 / 1000.0;
        Self {
            start_s: (interval.index - 1) as f64 * length_s,
            end_s: interval.index as f64 * length_s,
            replies: tally.replies,
            replies_per_second: tally.replies as f64 / length_s,
            lost: tally.lost,
            wrong: tally.wrong,
            p50_us: us(0.5),
            p99_us: us(0.99),
        }
    }
}

impl fmt::Display for IntervalLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>7.2}-{:.2} s {:>10.0} replies/s, lost {}, wrong {}, p50 {:.1}µs, p99 {:.1}µs",
            self.start_s,
            self.end_s,
            self.replies_per_second,
            self.lost,
            self.wrong,
            self.p50_us,
            self.p99_us
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quantile_is_the_sample_at_the_nearest_rank_as_java_takes_it() {
        let mut histogram = crate::tally::histogram();
        for value in 1..=100u64 {
            histogram.saturating_record(value * 1_000_000);
        }
        // 0.995 × 100 = 99.5: Java rounds to rank 100, and so here; 0.994 rounds to 99.
        let near = |v: u64| histogram.highest_equivalent(v);
        assert_eq!(at_quantile(&histogram, 0.995), near(100_000_000));
        assert_eq!(at_quantile(&histogram, 0.994), near(99_000_000));
        // Where the crate's own rounding up would take rank 100 for 0.991.
        assert_eq!(at_quantile(&histogram, 0.991), near(99_000_000));
        assert_eq!(histogram.value_at_quantile(0.991), near(100_000_000));
        assert_eq!(at_quantile(&crate::tally::histogram(), 0.5), 0);
    }
}

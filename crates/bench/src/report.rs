//! [`Report`]: what a load run measured, and the tallies its workers keep.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// What one worker (a connection or socket) counted.
#[derive(Debug)]
pub(crate) struct Tally {
    /// Replies that answered their request.
    pub(crate) replies: u64,
    /// Requests whose reply did not come within the timeout.
    pub(crate) lost: u64,
    /// Replies that did not answer their request.
    pub(crate) wrong: u64,
    /// Round-trip times of the good replies, in nanoseconds.
    pub(crate) latency: Histogram<u64>,
}

impl Tally {
    pub(crate) fn new() -> Self {
        // Three significant figures from 1 ns to a minute.
        let latency =
            Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("constant bounds are valid");
        Self {
            replies: 0,
            lost: 0,
            wrong: 0,
            latency,
        }
    }

    /// Counts a reply that took `rtt`, right or wrong.
    pub(crate) fn reply(&mut self, right: bool, rtt: Duration) {
        if right {
            self.replies += 1;
            let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
            self.latency.saturating_record(nanos.max(1));
        } else {
            self.wrong += 1;
        }
    }

    pub(crate) fn add(&mut self, other: &Tally) {
        self.replies += other.replies;
        self.lost += other.lost;
        self.wrong += other.wrong;
        // Same bounds on both sides, so adding cannot fail; were it to, the sample is lost,
        // not the run.
        let _ = self.latency.add(&other.latency);
    }
}

/// Latency percentiles of the good replies, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// The slowest.
    pub max_us: f64,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// `"tcp"` or `"udp"`.
    pub transport: &'static str,
    /// The server's address.
    pub server: String,
    /// Connections or sockets.
    pub conns: u32,
    /// Requests in flight on each.
    pub window: u32,
    /// Bytes per request.
    pub size: u32,
    /// Whether each TCP request had a connection of its own.
    pub reconnect: bool,
    /// How long the run took, from the first request to the last reply.
    pub seconds: f64,
    /// Replies that answered their request.
    pub replies: u64,
    /// Replies per second.
    pub replies_per_second: f64,
    /// Requests whose reply never came.
    pub lost: u64,
    /// Replies that did not answer their request.
    pub wrong: u64,
    /// Round-trip times of the good replies.
    pub latency: Latency,
}

impl Report {
    pub(crate) fn new(shape: Report, tally: &Tally, elapsed: Duration) -> Report {
        let us = |q: f64| tally.latency.value_at_quantile(q) as f64 / 1000.0;
        let seconds = elapsed.as_secs_f64();
        Report {
            seconds,
            replies: tally.replies,
            replies_per_second: if seconds > 0.0 {
                tally.replies as f64 / seconds
            } else {
                0.0
            },
            lost: tally.lost,
            wrong: tally.wrong,
            latency: Latency {
                p50_us: us(0.5),
                p90_us: us(0.9),
                p99_us: us(0.99),
                max_us: tally.latency.max() as f64 / 1000.0,
            },
            ..shape
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = if self.reconnect {
            ", a connection per request"
        } else {
            ""
        };
        writeln!(
            f,
            "{} to {}: {} × window {}, {}-byte requests{pattern}, {:.1}s",
            self.transport, self.server, self.conns, self.window, self.size, self.seconds
        )?;
        writeln!(
            f,
            "replies: {} ({:.0}/s), lost {}, wrong {}",
            self.replies, self.replies_per_second, self.lost, self.wrong
        )?;
        write!(
            f,
            "latency: p50 {:.1}µs, p90 {:.1}µs, p99 {:.1}µs, max {:.1}µs",
            self.latency.p50_us, self.latency.p90_us, self.latency.p99_us, self.latency.max_us
        )
    }
}

//! [`Summary`]: what a run of probes showed, as ping summarises it, plus two percentiles.

use std::time::Duration;

use serde::Serialize;

/// What a run of probes showed, as ping summarises it, plus two percentiles.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Replies received that were not what the server should have answered.
    pub(crate) wrong: u64,
    pub(crate) loss_percent: f64,
    /// Round-trip statistics in milliseconds; absent when nothing came back.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) rtt: Option<Rtt>,
}

/// Round trips in milliseconds.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Rtt {
    pub(crate) min_ms: f64,
    pub(crate) avg_ms: f64,
    pub(crate) max_ms: f64,
    /// The standard deviation, which ping calls mdev.
    pub(crate) mdev_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Summary {
    /// The summary of `sent` probes, of which those in `rtts` were answered.
    pub(crate) fn of(sent: u64, rtts: &[Duration]) -> Self {
        let received = rtts.len() as u64;
        let loss_percent = if sent == 0 {
            0.0
        } else {
            100.0 * (sent - received) as f64 / sent as f64
        };
        let mut ms: Vec<f64> = rtts.iter().map(|rtt| rtt.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rtt = (!ms.is_empty()).then(|| {
            let n = ms.len() as f64;
            let avg = ms.iter().sum::<f64>() / n;
            let square = ms.iter().map(|x| x * x).sum::<f64>() / n;
            // Nearest rank: the smallest value with at least p% of the values at or below it.
            let rank = |p: f64| ms[((p / 100.0 * n).ceil() as usize).clamp(1, ms.len()) - 1];
            Rtt {
                min_ms: ms[0],
                avg_ms: avg,
                max_ms: ms[ms.len() - 1],
                mdev_ms: (square - avg * avg).max(0.0).sqrt(),
                p50_ms: rank(50.0),
                p99_ms: rank(99.0),
            }
        });
        Self {
            sent,
            received,
            wrong: 0,
            loss_percent,
            rtt,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn summary_is_ping_s_with_percentiles() {
        let summary = Summary::of(4, &ms(&[3, 1, 2]));
        assert_eq!((summary.sent, summary.received), (4, 3));
        assert_eq!(summary.loss_percent, 25.0);
        let rtt = summary.rtt.expect("some replies");
        assert_eq!((rtt.min_ms, rtt.avg_ms, rtt.max_ms), (1.0, 2.0, 3.0));
        assert!((rtt.mdev_ms - (2.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!((rtt.p50_ms, rtt.p99_ms), (2.0, 3.0));
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        let rtt = Summary::of(100, &ms(&hundred)).rtt.expect("replies");
        assert_eq!((rtt.p50_ms, rtt.p99_ms), (50.0, 99.0));
        let one = Summary::of(1, &ms(&[7])).rtt.expect("a reply");
        assert_eq!((one.p50_ms, one.p99_ms, one.mdev_ms), (7.0, 7.0, 0.0));
    }
}

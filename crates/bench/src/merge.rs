//! [`merge`]: `upcase bench merge FILE...`, the logs of many runs (`--hlog`) added up interval by
//! interval on the wall clock, and reported as one run. Histograms are added, never their
//! percentiles averaged; counts are summed; the asked rate is the whole that the shares make.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;

use crate::error::BenchError;
use crate::hlog_read::Log;
use crate::publish::{Measured, Outputs, publish};
use crate::report::Report;
use crate::report::{Handshakes, IntervalLine, Latency, Merged, Rate, per_second};
use crate::run::{Interval, IntervalReplies};
use crate::sink::{json, print_line};
use crate::slo::Slo;
use crate::tally::Tally;
use crate::together::{Together, describe};

/// Flags of `upcase bench merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The interval logs to add up, written by `upcase bench --hlog` on one machine or many
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Print a line for each interval of the merged logs, as a run's --interval does
    #[arg(long)]
    pub interval: bool,

    /// Write the merged latency distribution to FILE in HdrHistogram's percentile text (.hgrm)
    #[arg(long, value_name = "FILE")]
    pub histogram: Option<PathBuf>,

    /// Write an SVG of the merged run to FILE
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,

    /// An objective the merged run must meet, as a run's --slo; a broken one exits 3
    #[arg(long, value_name = "EXPR")]
    pub slo: Vec<Slo>,

    /// Print the report (and interval lines) as JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `upcase bench merge`.
///
/// # Errors
/// [`BenchError::Log`] for a log that cannot be read; then as a run: wrong replies, none at
/// all, or broken objectives.
pub fn merge(args: &MergeArgs) -> Result<(), BenchError> {
    let logs = args
        .files
        .iter()
        .map(|path| Log::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    if args.slo.iter().any(Slo::needs_rate) && logs.iter().all(|log| rate_of(log).is_none()) {
        return Err(BenchError::Usage(
            "--slo rate: none of the logs is of a run with --rate".into(),
        ));
    }
    let together = Together::of(&logs);
    let buckets = buckets(&logs, &together);
    let mut whole = Tally::new(logs.iter().any(has_uncorrected));
    for bucket in buckets.values() {
        whole.add(&bucket.tally);
    }
    if args.interval {
        print_intervals(&buckets, &together, args.json)?;
    }
    let report = report(&logs, &together, &whole);
    let replies_by_interval: Vec<IntervalReplies> = buckets
        .iter()
        .filter(|(_, bucket)| bucket.whole)
        .map(|(&index, bucket)| IntervalReplies {
            index,
            replies: bucket.tally.replies,
        })
        .collect();
    let measured = Measured {
        latency: &whole.latency,
        uncorrected: whole.uncorrected.as_ref(),
        replies_by_interval: &replies_by_interval,
        interval_s: together.length_s,
    };
    let outputs = Outputs {
        histogram: args.histogram.as_ref(),
        plot: args.plot.as_ref(),
        json: args.json,
        slo: &args.slo,
        transform: None,
    };
    publish(report, &measured, &outputs)
}

fn rate_of(log: &Log) -> Option<f64> {
    log.run.as_ref().and_then(|run| run.rate)
}

fn has_uncorrected(log: &Log) -> bool {
    log.intervals.values().any(|i| i.uncorrected.is_some())
}

/// One interval of the merged run.
struct Bucket {
    tally: Tally,
    /// Whether some log's interval here was a whole one, not only the replies that came after
    /// a run's last whole interval (counted, but no interval line of its own).
    whole: bool,
}

/// Every log's intervals, added into the merged run's intervals (numbered from 1) by where
/// their start falls on the wall clock.
fn buckets(logs: &[Log], together: &Together) -> BTreeMap<u64, Bucket> {
    let mut buckets: BTreeMap<u64, Bucket> = BTreeMap::new();
    let open_loop = logs.iter().any(has_uncorrected);
    for logged in logs.iter().flat_map(|log| log.intervals.values()) {
        let offset = (logged.start_s - together.origin_s) / together.length_s;
        // `as` saturates: a start no clock gives lands in the first or the last interval.
        let index = (offset.round().max(0.0) as u64).saturating_add(1);
        let bucket = buckets.entry(index).or_insert_with(|| Bucket {
            tally: Tally::new(open_loop),
            whole: false,
        });
        bucket.whole |= logged.length_s >= together.length_s / 2.0;
        let mut tally = Tally::new(open_loop);
        tally.latency = logged.latency.clone();
        tally.uncorrected.clone_from(&logged.uncorrected);
        tally.replies = logged.latency.len();
        if let Some(counts) = logged.counts {
            (tally.sent, tally.lost, tally.wrong) = (counts.sent, counts.lost, counts.wrong);
        }
        bucket.tally.add(&tally);
    }
    buckets
}

fn print_intervals(
    buckets: &BTreeMap<u64, Bucket>,
    together: &Together,
    as_json: bool,
) -> Result<(), BenchError> {
    for (&index, bucket) in buckets.iter().filter(|(_, bucket)| bucket.whole) {
        let interval = Interval {
            index,
            tally: bucket.tally.clone(),
        };
        let line = IntervalLine::new(&interval, together.length_s);
        print_line(&if as_json {
            json(&line)
        } else {
            line.to_string()
        })?;
    }
    Ok(())
}

fn report(logs: &[Log], together: &Together, whole: &Tally) -> Report {
    let seconds = together.seconds;
    let per_second = |count: u64| per_second(count, seconds);
    let runs: Vec<_> = logs.iter().filter_map(|log| log.run.as_ref()).collect();
    let ends: Vec<_> = logs.iter().filter_map(|log| log.end.as_ref()).collect();
    let unsent = ends.iter().map(|end| end.unsent).sum::<u64>();
    let handshakes = ends.iter().map(|end| end.handshakes).sum::<u64>();
    let resumed = ends.iter().map(|end| end.resumed).sum::<u64>();
    let workers = runs.iter().map(|run| run.workers as u64).sum::<u64>();
    Report {
        transport: describe(runs.iter().map(|run| run.transport.as_str()), "+"),
        server: describe(runs.iter().map(|run| run.server.as_str()), ", "),
        conns: runs.iter().map(|run| run.conns).sum(),
        window: runs.iter().map(|run| run.window).max().unwrap_or(0),
        size: runs.iter().map(|run| run.size).max().unwrap_or(0),
        reconnect: runs.iter().any(|run| run.reconnect),
        threads: runs.iter().map(|run| run.threads).sum(),
        seconds,
        replies: whole.replies,
        replies_per_second: per_second(whole.replies),
        lost: whole.lost,
        wrong: whole.wrong,
        latency: Latency::of(&whole.latency),
        uncorrected_latency: whole.uncorrected.as_ref().map(Latency::of),
        rate: together.asked.map(|asked| Rate {
            asked,
            share: None,
            achieved: per_second(whole.sent),
            unsent,
            behind_ms: ends.iter().map(|end| end.behind_ms).fold(0.0, f64::max),
            reached: unsent <= workers && together.shares_whole,
        }),
        handshakes: (handshakes > 0).then(|| Handshakes {
            resume: resumed > 0,
            full: handshakes - resumed,
            resumed,
            per_second: per_second(handshakes),
        }),
        slo: Vec::new(),
        merged: Some(Merged {
            logs: logs.len(),
            generators: logs.iter().flat_map(|log| log.tags.clone()).collect(),
            differ: together.differ.clone(),
        }),
    }
}

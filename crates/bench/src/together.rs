//! [`Together`]: what the logs given to `upcase bench merge` make as one run — where its time
//! starts and how long it lasted, its intervals' length, the whole rate its shares asked — and
//! how the logs differ, said rather than hidden.

use std::collections::BTreeSet;

use crate::hlog_read::Log;
use crate::share::Share;

/// The logs as one run.
#[derive(Debug)]
pub(crate) struct Together {
    /// When the first log's load started, in seconds since the epoch.
    pub(crate) origin_s: f64,
    /// The merged intervals' length, in seconds.
    pub(crate) length_s: f64,
    /// From the first start to the last end.
    pub(crate) seconds: f64,
    /// The rate asked of them all, if any run had `--rate`.
    pub(crate) asked: Option<f64>,
    /// Whether every share of that rate is among the logs (true without shares).
    pub(crate) shares_whole: bool,
    /// A sentence for each way the logs differ.
    pub(crate) differ: Vec<String>,
}

impl Together {
    pub(crate) fn of(logs: &[Log]) -> Together {
        let mut differ = Vec::new();
        let origin_s = logs.iter().map(|log| log.base_s).fold(f64::MAX, f64::min);
        let length_s = length(logs, &mut differ);
        let last_end = logs.iter().map(end_of).fold(origin_s, f64::max);
        let latest = logs.iter().map(|log| log.base_s).fold(origin_s, f64::max);
        if latest - origin_s > length_s {
            differ.push(format!(
                "their loads started {:.1} s apart (--start-at starts them together)",
                latest - origin_s
            ));
        }
        for (what, value) in [
            ("transports", field(logs, |run| run.transport.clone())),
            ("servers", field(logs, |run| run.server.clone())),
            (
                "request sizes",
                field(logs, |run| format!("{} B", run.size)),
            ),
        ] {
            if value.len() > 1 {
                differ.push(format!("{what} {}", join(&value, ", ")));
            }
        }
        for log in logs.iter().filter(|log| log.run.is_none()) {
            differ.push(format!(
                "{} holds histograms only (no upcase-run line): its sent, lost and wrong are not known",
                log.path.display()
            ));
        }
        let Asked { rate, whole } = asked(logs, &mut differ);
        Together {
            origin_s,
            length_s,
            seconds: last_end - origin_s,
            asked: rate,
            shares_whole: whole,
            differ,
        }
    }
}

/// The runs' interval length, the longest if they differ (said).
fn length(logs: &[Log], differ: &mut Vec<String>) -> f64 {
    let lengths = field(logs, |run| format!("{}", run.interval_s));
    let of_runs = logs
        .iter()
        .filter_map(|log| log.run.as_ref().map(|run| run.interval_s));
    let of_intervals = logs
        .iter()
        .flat_map(|log| log.intervals.values().map(|i| i.length_s));
    let longest = of_runs.fold(0.0, f64::max);
    let longest = if longest > 0.0 {
        longest
    } else {
        of_intervals.fold(0.0, f64::max)
    };
    if lengths.len() > 1 {
        differ.push(format!(
            "intervals of {} s: merged on {longest} s",
            join(&lengths, ", ")
        ));
    }
    if longest > 0.0 { longest } else { 1.0 }
}

/// When a log's load ended, in seconds since the epoch.
fn end_of(log: &Log) -> f64 {
    match &log.end {
        Some(end) => log.base_s + end.seconds,
        None => log
            .intervals
            .values()
            .map(|i| i.start_s + i.length_s)
            .fold(log.base_s, f64::max),
    }
}

/// The rate the runs were asked for, together.
struct Asked {
    /// The rate the shares were of, when they are shares of one; else the sum of each run's
    /// part; `None` when no run was asked for a rate (closed loop).
    rate: Option<f64>,
    /// Whether every share of it is there.
    whole: bool,
}

/// The whole rate asked of `logs`, saying in `differ` why it is not one rate's shares.
fn asked(logs: &[Log], differ: &mut Vec<String>) -> Asked {
    let parts: Vec<(f64, Share)> = logs
        .iter()
        .filter_map(|log| log.run.as_ref())
        .filter_map(|run| Some((run.rate?, run.share.unwrap_or(Share::WHOLE))))
        .collect();
    let Some(&(rate, Share { of, .. })) = parts.first() else {
        return Asked {
            rate: None,
            whole: true,
        };
    };
    let one_rate = parts
        .iter()
        .all(|&(r, share)| (r - rate).abs() < 1e-9 && share.of == of);
    if !one_rate || parts.len() < logs.len() {
        differ.push("their rates are not shares of one: the asked rate is their sum".into());
        let sum = parts
            .iter()
            .map(|&(r, share)| r / f64::from(share.of))
            .sum();
        return Asked {
            rate: Some(sum),
            whole: true,
        };
    }
    let present: BTreeSet<u32> = parts.iter().map(|(_, share)| share.index).collect();
    let missing: Vec<String> = (1..=of)
        .filter(|index| !present.contains(index))
        .map(|index| format!("{index}/{of}"))
        .collect();
    if !missing.is_empty() {
        differ.push(format!(
            "shares {} of the rate are missing: the rate asked of all was not sent",
            missing.join(", ")
        ));
    }
    if present.len() < parts.len() {
        differ.push("some share of the rate is in more than one log".into());
    }
    Asked {
        rate: Some(rate),
        whole: missing.is_empty(),
    }
}

/// The distinct values of a run's field among the logs that say it.
fn field(logs: &[Log], of: impl Fn(&crate::hlog_meta::RunLine) -> String) -> BTreeSet<String> {
    logs.iter()
        .filter_map(|log| log.run.as_ref())
        .map(of)
        .collect()
}

fn join(values: &BTreeSet<String>, separator: &str) -> String {
    values.iter().cloned().collect::<Vec<_>>().join(separator)
}

/// The distinct values, in order of first appearance, joined: one value when they agree.
pub(crate) fn describe<'a>(values: impl Iterator<Item = &'a str>, separator: &str) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for value in values {
        if !seen.contains(&value) {
            seen.push(value);
        }
    }
    seen.join(separator)
}

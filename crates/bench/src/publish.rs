//! [`publish`]: a finished report out to where it was asked for — the `.hgrm` file, the SVG, the
//! report on stdout, and the exit status — the same for a run and for a merge of runs' logs.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

use crate::error::BenchError;
use crate::hgrm::percentile_distribution;
use crate::plot::{Picture, plot};
use crate::report::Report;
use crate::run::IntervalReplies;
use crate::sink::{json, print_line};
use crate::slo::Slo;

/// What the figures were made from, beyond the report itself.
pub(crate) struct Measured<'a> {
    pub(crate) latency: &'a Histogram<u64>,
    pub(crate) uncorrected: Option<&'a Histogram<u64>>,
    /// Each interval's number (from 1) and its good replies.
    pub(crate) replies_by_interval: &'a [IntervalReplies],
    /// The intervals' length, in seconds.
    pub(crate) interval_s: f64,
}

/// Where the report goes.
pub(crate) struct Outputs<'a> {
    pub(crate) histogram: Option<&'a PathBuf>,
    pub(crate) plot: Option<&'a PathBuf>,
    pub(crate) json: bool,
    pub(crate) slo: &'a [Slo],
    /// The transform the replies were held to, if the generator was told it.
    pub(crate) transform: Option<upcase_proto::Builtin>,
}

/// Checks the objectives, writes the files asked for, prints the report, and says how it went:
/// [`BenchError::Failed`] for wrong replies or none, [`BenchError::Slo`] for broken objectives.
pub(crate) fn publish(
    mut report: Report,
    measured: &Measured<'_>,
    to: &Outputs<'_>,
) -> Result<(), BenchError> {
    report.slo = to.slo.iter().map(|slo| slo.check(&report)).collect();
    if let Some(path) = to.histogram {
        let text = percentile_distribution(measured.latency);
        write_file(path, &text, "--histogram")?;
    }
    if let Some(path) = to.plot {
        write_file(path, &picture(&report, measured)?, "--plot")?;
    }
    let text = if to.json {
        json(&report)
    } else {
        report.to_string()
    };
    print_line(&text)?;
    verdict(&report, to.transform)
}

fn picture(report: &Report, measured: &Measured<'_>) -> Result<String, BenchError> {
    let length = measured.interval_s;
    let mode = match report.rate {
        Some(ref rate) => format!("{:.0} requests/s asked", rate.asked),
        None => format!("{} × window {}", report.conns, report.window),
    };
    let picture = Picture {
        title: format!(
            "upcase bench: {} to {}, {mode}, {}-byte requests",
            report.transport, report.server, report.size
        ),
        latency: measured.latency,
        uncorrected: measured.uncorrected,
        // Each interval's rate held from its start to its end, so the line spans the run.
        throughput: measured
            .replies_by_interval
            .iter()
            .flat_map(|interval| {
                let rate = interval.replies as f64 / length;
                let end = interval.index as f64 * length;
                [(end - length, rate), (end, rate)]
            })
            .collect(),
    };
    plot(&picture).map_err(|error| BenchError::Failed(format!("cannot draw the plot: {error}")))
}

pub(crate) fn write_file(path: &Path, text: &str, flag: &str) -> Result<(), BenchError> {
    std::fs::write(path, text).map_err(|error| BenchError::File {
        flag: flag.to_owned(),
        path: path.to_owned(),
        error,
    })
}

fn verdict(report: &Report, transform: Option<upcase_proto::Builtin>) -> Result<(), BenchError> {
    let broken = report.slo.iter().filter(|check| !check.ok).count();
    match (report.wrong, report.replies) {
        (0, 0) => Err(BenchError::Failed(
            "no reply came; is the server running there?".into(),
        )),
        (0, _) if broken > 0 => Err(BenchError::Slo(broken)),
        (0, _) => Ok(()),
        (wrong, _) => Err(BenchError::Failed(match transform {
            Some(transform) => format!(
                "{wrong} replies did not answer their request as a server of \
                 --transform {transform} would"
            ),
            None => format!(
                "{wrong} replies did not answer their request as an echo or upper-case server \
                 would"
            ),
        })),
    }
}

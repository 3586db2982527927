//! [`Slo`]: `--slo EXPR`, an objective a run must meet, such as `p99<=2ms`, `lost==0` or
//! `rate>=0.99`, checked against the report at the end; a broken one sets exit status 3.

use std::fmt;
use std::str::FromStr;

use crate::report::Report;
use crate::report::SloCheck;

/// What an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    /// A latency percentile, or the slowest, in microseconds.
    P50,
    P90,
    P99,
    P999,
    Max,
    /// Requests whose reply never came.
    Lost,
    /// Replies that did not answer their request.
    Wrong,
    /// The share of the asked rate achieved (with `--rate`).
    Rate,
}

/// How the measured value must compare with the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Le,
    Lt,
    Ge,
    Gt,
    Eq,
}

/// An objective: a metric, a comparison, and a bound (microseconds for latencies).
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    expr: String,
    metric: Metric,
    op: Op,
    bound: f64,
}

const FORMS: &str = "write METRIC OP VALUE, like p99<=2ms, p50<500us, lost==0, wrong==0 or \
                     rate>=0.99 (metrics p50 p90 p99 p999 max lost wrong rate; ops <= < >= > ==)";

impl FromStr for Slo {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let expr = text.trim();
        let at = expr.find(['<', '>', '=']).ok_or_else(|| FORMS.to_owned())?;
        let (name, rest) = expr.split_at(at);
        let (op, value) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(sign, op)| rest.strip_prefix(sign).map(|value| (op, value.trim())))
        .ok_or_else(|| FORMS.to_owned())?;
        let metric = match name.trim() {
            "p50" => Metric::P50,
            "p90" => Metric::P90,
            "p99" => Metric::P99,
            "p999" => Metric::P999,
            "max" => Metric::Max,
            "lost" => Metric::Lost,
            "wrong" => Metric::Wrong,
            "rate" => Metric::Rate,
            other => return Err(format!("`{other}` is no metric; {FORMS}")),
        };
        let bound = bound(metric, value)?;
        Ok(Slo {
            expr: expr.to_owned(),
            metric,
            op,
            bound,
        })
    }
}

/// The bound `value` for `metric`: a duration with its unit for latencies (in microseconds),
/// a count, or a share from 0 to 1.
fn bound(metric: Metric, value: &str) -> Result<f64, String> {
    match metric {
        Metric::P50 | Metric::P90 | Metric::P99 | Metric::P999 | Metric::Max => value
            .parse::<humantime::Duration>()
            .map(|duration| duration.as_secs_f64() * 1e6)
            .map_err(|_| format!("`{value}` is not a duration with its unit, like 2ms or 500us")),
        Metric::Lost | Metric::Wrong => value
            .parse::<u64>()
            .map(|count| count as f64)
            .map_err(|_| format!("`{value}` is not a count")),
        Metric::Rate => match value.parse::<f64>() {
            Ok(share) if (0.0..=1.0).contains(&share) => Ok(share),
            _ => Err(format!(
                "`{value}` is not a share of the asked rate, from 0 to 1"
            )),
        },
    }
}

impl Slo {
    /// Whether the objective can be checked for a run: `rate` needs `--rate`.
    pub(crate) fn needs_rate(&self) -> bool {
        self.metric == Metric::Rate
    }

    /// Checks the objective against `report`.
    pub(crate) fn check(&self, report: &Report) -> SloCheck {
        let latency = &report.latency;
        let measured = match self.metric {
            Metric::P50 => latency.p50_us,
            Metric::P90 => latency.p90_us,
            Metric::P99 => latency.p99_us,
            Metric::P999 => latency.p999_us,
            Metric::Max => latency.max_us,
            Metric::Lost => report.lost as f64,
            Metric::Wrong => report.wrong as f64,
            Metric::Rate => report
                .rate
                .as_ref()
                .map_or(0.0, |rate| rate.achieved / rate.asked),
        };
        let ok = match self.op {
            Op::Le => measured <= self.bound,
            Op::Lt => measured < self.bound,
            Op::Ge => measured >= self.bound,
            Op::Gt => measured > self.bound,
            Op::Eq => (measured - self.bound).abs() < f64::EPSILON,
        };
        SloCheck {
            expr: self.expr.clone(),
            measured,
            ok,
        }
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_in_every_form_and_bad_ones_say_how() {
        let slo: Slo = "p99<=2ms".parse().expect("valid");
        assert_eq!(
            (slo.metric, slo.op, slo.bound),
            (Metric::P99, Op::Le, 2000.0)
        );
        let slo: Slo = "p50<500us".parse().expect("valid");
        assert_eq!(
            (slo.metric, slo.op, slo.bound),
            (Metric::P50, Op::Lt, 500.0)
        );
        let slo: Slo = "lost==0".parse().expect("valid");
        assert_eq!((slo.metric, slo.op), (Metric::Lost, Op::Eq));
        let slo: Slo = "rate >= 0.99".parse().expect("valid");
        assert_eq!(
            (slo.metric, slo.op, slo.bound),
            (Metric::Rate, Op::Ge, 0.99)
        );
        for bad in [
            "p99",
            "p99<=2",
            "p42<=2ms",
            "lost==-1",
            "rate>=1.5",
            "p99=>2ms",
            "",
        ] {
            assert!(bad.parse::<Slo>().is_err(), "{bad}");
        }
    }
}

//! The latency distribution in HdrHistogram's percentile text (`.hgrm`), as its Java
//! `outputPercentileDistribution` writes it, so that HdrHistogram's own plotter and hdr-plot
//! read it: a header, a row per percentile step (five steps each time the distance to 100%
//! halves), and the `#[Mean …]` footer. Values are in microseconds.

use std::fmt::Write;

use hdrhistogram::Histogram;

/// Steps a row each time the distance to 100% halves, as the Java default.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The histogram (of nanoseconds) as `.hgrm` text in microseconds.
pub(crate) fn percentile_distribution(histogram: &Histogram<u64>) -> String {
    let us = |ns: u64| ns as f64 / 1000.0;
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        text,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0;
    for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        total += step.count_since_last_iteration();
        let (value, quantile) = (us(step.value_iterated_to()), step.quantile_iterated_to());
        if quantile < 1.0 {
            let inverse = 1.0 / (1.0 - quantile);
            let _ = writeln!(
                text,
                "{value:12.3} {quantile:2.12} {total:10} {inverse:14.2}"
            );
        } else {
            let _ = writeln!(text, "{value:12.3} {quantile:2.12} {total:10}");
        }
    }
    let sub_buckets = (2.0 * 10f64.powi(i32::from(histogram.sigfig())))
        .log2()
        .ceil()
        .exp2();
    let _ = writeln!(
        text,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        histogram.mean() / 1000.0,
        histogram.stdev() / 1000.0
    );
    let _ = writeln!(
        text,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        us(histogram.max()),
        histogram.len()
    );
    let _ = writeln!(
        text,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_buckets
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::histogram;

    #[test]
    fn rows_climb_to_the_whole_count_and_the_footer_sums_up() {
        let mut latency = histogram();
        for us in 1..=1000u64 {
            latency.saturating_record(us * 1000);
        }
        let text = percentile_distribution(&latency);
        let mut lines = text.lines();
        assert_eq!(
            lines
                .next()
                .map(str::split_whitespace)
                .map(Iterator::collect::<Vec<_>>),
            Some(vec![
                "Value",
                "Percentile",
                "TotalCount",
                "1/(1-Percentile)"
            ])
        );
        assert_eq!(lines.next(), Some(""));
        let rows: Vec<Vec<f64>> = lines
            .clone()
            .take_while(|line| !line.starts_with('#'))
            .map(|line| {
                line.split_whitespace()
                    .map(|f| f.parse().unwrap_or(f64::NAN))
                    .collect()
            })
            .collect();
        assert!(rows.len() > 20);
        assert!(
            rows.windows(2)
                .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1])
        );
        let last = rows.last().cloned().unwrap_or_default();
        assert_eq!(last.len(), 3, "the 100% row has no 1/(1-Percentile)");
        assert_eq!((last[1], last[2]), (1.0, 1000.0));
        assert!((last[0] - 1000.0).abs() < 1.0, "{last:?}");
        let median = rows.iter().find(|row| row[1] >= 0.5).map(|row| row[0]);
        assert!(
            median.is_some_and(|us| (499.0..=501.0).contains(&us)),
            "{median:?}"
        );
        let footer: Vec<&str> = text.lines().filter(|line| line.starts_with("#[")).collect();
        assert_eq!(footer.len(), 3);
        assert!(
            footer[0].starts_with("#[Mean    =      500.5"),
            "{}",
            footer[0]
        );
        assert!(
            footer[1].ends_with("Total count    =         1000]"),
            "{}",
            footer[1]
        );
        assert!(
            footer[2].ends_with("SubBuckets     =         2048]"),
            "{}",
            footer[2]
        );
    }
}

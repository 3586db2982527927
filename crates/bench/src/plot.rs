//! [`plot`]: a run as an SVG picture, drawn with plotters: latency by percentile on a
//! logarithmic percentile axis (as HdrHistogram's plots draw it: 90%, 99%, 99.9% equally
//! apart), and replies per second over time.

use hdrhistogram::Histogram;
use plotters::prelude::*;

/// The picture's size in pixels.
const SIZE: (u32, u32) = (960, 800);

/// What to draw.
pub(crate) struct Picture<'a> {
    pub(crate) title: String,
    /// Latency from each request's due time (or send time, in closed loop).
    pub(crate) latency: &'a Histogram<u64>,
    /// Open loop: latency from each actual send.
    pub(crate) uncorrected: Option<&'a Histogram<u64>>,
    /// Points of replies a second over seconds since the load started.
    pub(crate) throughput: Vec<(f64, f64)>,
}

/// Latency by percentile: `(1 / (1 - p), µs)` points, the x axis HdrHistogram's plots use.
fn percentile_curve(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    histogram
        .iter_quantiles(5)
        .map(|step| (step.quantile_iterated_to(), step.value_iterated_to()))
        .take_while(|&(quantile, _)| quantile < 1.0)
        .map(|(quantile, ns)| (1.0 / (1.0 - quantile), ns as f64 / 1000.0))
        .collect()
}

/// `1 / (1 - p)` as the percentile it stands for.
fn percentile_label(x: &f64) -> String {
    let percent = 100.0 * (1.0 - 1.0 / x);
    let text = format!("{percent:.4}");
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// Renders `picture` as SVG text.
///
/// # Errors
/// What plotters reports when it cannot lay out the picture.
pub(crate) fn plot(picture: &Picture<'_>) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(&picture.title, ("sans-serif", 22))
            .map_err(|e| e.to_string())?;
        let (upper, lower) = root.split_vertically(SIZE.1 * 3 / 5);
        percentiles(&upper, picture).map_err(|e| e.to_string())?;
        over_time(&lower, picture).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type Drawn<'a> = Result<(), DrawingAreaErrorKind<<SVGBackend<'a> as DrawingBackend>::ErrorType>>;

fn percentiles<'a>(area: &Area<'a>, picture: &Picture<'_>) -> Drawn<'a> {
    let corrected = percentile_curve(picture.latency);
    let uncorrected = picture.uncorrected.map(percentile_curve);
    let points = corrected.iter().chain(uncorrected.iter().flatten());
    let top_x = points.clone().map(|p| p.0).fold(10.0, f64::max);
    let top_y = points.map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("Latency by percentile", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((1.0..top_x).log_scale(), 0.0..top_y)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (µs)")
        .x_label_formatter(&percentile_label)
        .draw()?;
    let label = if uncorrected.is_some() {
        "from the scheduled send times (corrected)"
    } else {
        "latency"
    };
    chart
        .draw_series(LineSeries::new(corrected, &BLUE))?
        .label(label)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    if let Some(uncorrected) = uncorrected {
        chart
            .draw_series(LineSeries::new(uncorrected, &RED))?
            .label("from the actual send times (uncorrected)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
}

fn over_time<'a>(area: &Area<'a>, picture: &Picture<'_>) -> Drawn<'a> {
    let last = picture.throughput.iter().map(|p| p.0).fold(1.0, f64::max);
    let top = picture.throughput.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("Replies per second over time", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..last, 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc("time since the load started (s)")
        .y_desc("replies/s")
        .draw()?;
    chart.draw_series(LineSeries::new(picture.throughput.iter().copied(), &BLUE))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tally::histogram;

    #[test]
    fn percentiles_are_labelled_as_percentages() {
        assert_eq!(percentile_label(&10.0), "90%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
        assert_eq!(percentile_label(&1.0), "0%");
    }

    #[test]
    fn the_picture_has_both_charts_and_both_curves() {
        let mut latency = histogram();
        for us in 1..=500u64 {
            latency.saturating_record(us * 1000);
        }
        let picture = Picture {
            title: "tcp to 127.0.0.1:1".into(),
            latency: &latency,
            uncorrected: Some(&latency),
            throughput: vec![(1.0, 100.0), (2.0, 120.0)],
        };
        let svg = plot(&picture).unwrap_or_default();
        assert!(svg.starts_with("<svg"));
        for text in [
            "Latency by percentile",
            "Replies per second over time",
            "latency (µs)",
            "replies/s",
            "(corrected)",
            "(uncorrected)",
            "99%",
        ] {
            assert!(svg.contains(text), "{text}");
        }
    }
}

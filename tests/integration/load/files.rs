//! `upcase bench`'s files and lines: the `.hgrm` histogram, interval lines and NDJSON, the SVG
//! plot.

use std::io::BufRead;
use std::path::Path;
use std::process::Command;

use super::{bench_at, bench_json, limits_off, us};
use crate::util::upcase;

/// Rows of an `.hgrm` file: value, percentile, total count; and its footer's total count.
fn hgrm(path: &Path) -> (Vec<(f64, f64, u64)>, u64) {
    let text = std::fs::read_to_string(path).expect("histogram file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let rows = lines
        .clone()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            (
                number(0).expect("value"),
                number(1).expect("percentile"),
                number(2).expect("count") as u64,
            )
        })
        .collect();
    let total = text
        .lines()
        .find_map(|line| line.split("Total count    =").nth(1))
        .and_then(|rest| rest.trim().trim_end_matches(']').trim().parse().ok())
        .expect("footer with the total count");
    assert!(text.contains("#[Mean    ="), "{text}");
    assert!(text.contains("#[Buckets ="), "{text}");
    (rows, total)
}

#[test]
fn the_histogram_file_holds_every_reply() {
    let server = limits_off();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("latency.hgrm");
    let path_text = path.to_string_lossy().to_string();
    let (report, _) = bench_json(
        server.port(),
        &[
            "--udp",
            "--window",
            "8",
            "--requests",
            "5000",
            "--histogram",
            &path_text,
        ],
    );
    let (rows, total) = hgrm(&path);
    let replies = report["replies"].as_u64().expect("replies");
    assert_eq!(total, replies);
    assert_eq!(rows.last().map(|row| (row.1, row.2)), Some((1.0, replies)));
    assert!(
        rows.windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].2 <= w[1].2)
    );
    // The file's median is the report's, in the same microseconds.
    let median = rows
        .iter()
        .find(|row| row.1 >= 0.5)
        .map_or(f64::NAN, |row| row.0);
    let reported = us(&report, "latency", "p50_us");
    assert!(
        (median - reported).abs() <= reported * 0.01 + 0.01,
        "{median} vs {reported}"
    );

    // A file that cannot be written is an error after the run, naming the flag.
    bench_at(server.port())
        .args(["--requests", "10", "--histogram", "/nonexistent/dir/x.hgrm"])
        .assert()
        .code(1)
        .stderr(predicates::str::starts_with(
            "upcase: cannot write --histogram /nonexistent/dir/x.hgrm: ",
        ));
}

#[test]
fn intervals_come_as_lines_or_as_json_objects_before_the_report() {
    let server = limits_off();
    let port = server.port().to_string();
    let output = upcase()
        .args(["bench", "--host", "127.0.0.1", "--port", &port])
        .args(["--interval", "250ms", "--duration", "1s", "--json"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = output
        .stdout
        .as_slice()
        .lines()
        .map(|line| serde_json::from_str(&line.expect("utf-8")).expect("one JSON object a line"))
        .collect();
    let (report, intervals) = lines.split_last().expect("a report");
    assert_eq!(intervals.len(), 4, "{lines:?}");
    for (i, interval) in intervals.iter().enumerate() {
        assert_eq!(
            interval["start_s"].as_f64(),
            Some(i as f64 * 0.25),
            "{interval}"
        );
        assert_eq!(
            interval["end_s"].as_f64(),
            Some((i + 1) as f64 * 0.25),
            "{interval}"
        );
        assert!(interval["replies"].as_u64() > Some(0), "{interval}");
        assert_eq!(interval["wrong"], 0);
        assert!(interval["p50_us"].as_f64() <= interval["p99_us"].as_f64());
        assert!(interval["replies_per_second"].as_f64() > Some(0.0));
    }
    let in_intervals: u64 = intervals.iter().filter_map(|i| i["replies"].as_u64()).sum();
    let replies = report["replies"].as_u64().unwrap_or(0);
    // The last replies, to requests sent just before the end, come after the last interval.
    assert!(
        in_intervals <= replies && replies - in_intervals <= 10,
        "{in_intervals} of {replies}"
    );

    let output = upcase()
        .args(["bench", "--host", "127.0.0.1", "--port", &port])
        .args(["--interval", "500ms", "--duration", "1s"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&output.stdout);
    let pattern = regex_lite(
        r"^ +0\.00-0\.50 s +[0-9]+ replies/s, lost 0, wrong 0, p50 [0-9.]+µs, p99 [0-9.]+µs$",
    );
    let first = text.lines().next().unwrap_or_default();
    assert!(pattern(first), "{text}");
    assert!(
        text.lines()
            .nth(2)
            .is_some_and(|line| line.starts_with("tcp to 127.0.0.1:")),
        "{text}"
    );
}

/// A tiny matcher for the one pattern above, through predicates' regex.
fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool {
    use predicates::prelude::*;
    let predicate = predicate::str::is_match(pattern).expect("regex");
    move |text| predicate.eval(text)
}

#[test]
fn the_plot_is_an_svg_with_both_charts_and_both_curves() {
    let server = limits_off();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("run.svg");
    let path_text = path.to_string_lossy().to_string();
    bench_json(
        server.port(),
        &["--rate", "2000", "--duration", "2s", "--plot", &path_text],
    );
    let svg = std::fs::read_to_string(&path).expect("svg");
    // Well-formed XML, by the standard library's own parser.
    let parsed = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])",
            &path_text,
        ])
        .status()
        .expect("python3");
    assert!(parsed.success(), "not well-formed XML");
    assert!(svg.starts_with("<svg"));
    for text in [
        "Latency by percentile",
        "Replies per second over time",
        "latency (µs)",
        "percentile",
        "replies/s",
        "time since the load started (s)",
        "from the scheduled send times (corrected)",
        "from the actual send times (uncorrected)",
        "99%",
    ] {
        assert!(svg.contains(text), "{text} is missing");
    }
    // Three curves: corrected, uncorrected, and replies over time.
    assert!(svg.matches("<polyline").count() >= 3, "{svg}");
}

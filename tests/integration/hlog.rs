//! `upcase bench --hlog`: HdrHistogram's interval log, read back by an independent reader
//! (Python's `hdrhistogram` package), which finds the run's own counts and percentiles in it.

use predicates::prelude::*;

use crate::util::pyenv::hlog_read;
use crate::util::{start_server, upcase};

fn bench_json(port: u16, args: &[&str]) -> serde_json::Value {
    let out = upcase()
        .args([
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--json",
        ])
        .args(args)
        .output()
        .expect("bench runs");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
#[ignore = "needs Python's hdrhistogram in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn the_interval_log_holds_the_runs_counts_and_percentiles() {
    let server = start_server(&[
        "--tcp",
        "--bind",
        "127.0.0.1",
        "--max-connections-per-source",
        "0",
    ]);
    let dir = tempfile::tempdir().expect("a directory");
    let log = dir.path().join("run.hlog");
    let args = [
        "--conns",
        "2",
        "--rate",
        "2000",
        "--duration",
        "3s",
        "--hlog",
    ];
    let report = bench_json(
        server.port(),
        &[&args[..], &[log.to_str().expect("utf-8")]].concat(),
    );
    let read = hlog_read(std::slice::from_ref(&log));
    assert_eq!(read["count"], report["replies"], "{read} against {report}");
    assert_eq!(read["uncorrected_count"], report["replies"]);
    assert!(read["intervals"].as_u64() >= Some(3), "{read}");
    for key in ["p50_us", "p99_us", "max_us"] {
        assert_eq!(
            read[key], report["latency"][key],
            "{key}: {read} against {report}"
        );
    }
    let text = std::fs::read_to_string(&log).expect("the log");
    assert!(
        text.contains("#[StartTime: ") && text.contains("#[BaseTime: "),
        "{text}"
    );
}

#[test]
#[ignore = "needs Python's hdrhistogram in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn a_short_closed_loop_run_is_all_in_the_log() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let dir = tempfile::tempdir().expect("a directory");
    let log = dir.path().join("short.hlog");
    let report = bench_json(
        server.port(),
        &["--requests", "500", "--hlog", log.to_str().expect("utf-8")],
    );
    let read = hlog_read(std::slice::from_ref(&log));
    assert_eq!(
        (read["count"].as_u64(), report["replies"].as_u64()),
        (Some(500), Some(500))
    );
    assert_eq!(
        read["uncorrected_count"], 0,
        "closed loop: no uncorrected histograms"
    );
}

#[test]
fn a_log_that_cannot_be_written_stops_the_run_before_it_starts() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    upcase()
        .args([
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
        ])
        .args(["--requests", "10", "--hlog", "/nonexistent/dir/run.hlog"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--hlog /nonexistent/dir/run.hlog"));
}

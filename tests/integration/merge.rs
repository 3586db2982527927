//! `upcase bench merge`: the `--hlog` files of generators sharing one rate (`--share`, started
//! together by `--start-at`) added up as one run, checked against Python's `hdrhistogram`
//! reading the same files; logs that differ said so; bad logs and bad flags refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use predicates::prelude::*;

use crate::util::pyenv::{assert_merged_is_the_sum, hlog_read};
use crate::util::{binary, start_server, start_server_logged, upcase};

/// A generator started now, writing its report (JSON) and its log in `dir`.
fn generator(port: u16, dir: &Path, name: &str, args: &[&str]) -> (Child, PathBuf) {
    let log = dir.join(format!("{name}.hlog"));
    let mut bench = Command::new(binary());
    bench.args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()]);
    (spawn_logging(bench, &log, args), log)
}

/// `command`, an `upcase` with its first arguments, run as `bench … --json --hlog LOG ARGS`.
pub fn spawn_logging(mut command: Command, log: &Path, args: &[&str]) -> Child {
    command
        .args(["--json", "--hlog"])
        .arg(log)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bench starts")
}

/// The report a finished generator printed; it must have succeeded.
pub fn report_of(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().expect("bench ends");
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn merge(logs: &[PathBuf], args: &[&str]) -> assert_cmd::Command {
    let mut merge = upcase();
    merge.args(["bench", "merge"]).args(logs).args(args);
    merge
}

/// Three generators, shares 1/3, 2/3 and 3/3 of 1500 requests a second, over UDP.
fn three_shares(dir: &Path) -> (Vec<serde_json::Value>, Vec<PathBuf>) {
    let server = start_server(&[
        "--udp",
        "--bind",
        "127.0.0.1",
        "--max-datagrams-per-source",
        "0",
    ]);
    let generators: Vec<_> = (1..=3)
        .map(|i| {
            let share = format!("{i}/3");
            let args = ["--udp", "--rate", "1500", "--share", &share];
            let timing = ["--start-at", "+2s", "--duration", "2s", "--conns", "2"];
            generator(
                server.port(),
                dir,
                &format!("g{i}"),
                &[&args[..], &timing].concat(),
            )
        })
        .collect();
    generators
        .into_iter()
        .map(|(child, log)| (report_of(child), log))
        .unzip()
}

#[test]
#[ignore = "needs Python's hdrhistogram in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn shares_of_one_rate_merge_into_one_run_with_the_percentiles_of_the_added_histograms() {
    let dir = tempfile::tempdir().expect("a directory");
    let (reports, logs) = three_shares(dir.path());
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report["rate"]["asked"], 500.0, "{report}");
        assert_eq!(report["rate"]["share"], format!("{}/3 of 1500/s", i + 1));
    }
    let (histogram, plot) = (dir.path().join("all.hgrm"), dir.path().join("all.svg"));
    let out = merge(&logs, &["--json", "--histogram"])
        .arg(&histogram)
        .arg("--plot")
        .arg(&plot)
        .assert()
        .success();
    let merged: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    assert_merged_is_the_sum(&merged, &reports, &logs);
    assert_eq!(merged["rate"]["asked"], 1500.0);
    assert_eq!(merged["rate"]["reached"], true, "{merged}");
    assert_eq!(merged["merged"]["logs"], 3);
    assert_eq!(
        merged["merged"]["differ"],
        serde_json::json!([]),
        "{merged}"
    );
    let hgrm = std::fs::read_to_string(&histogram).expect("the .hgrm");
    assert!(
        hgrm.contains("Percentile") && hgrm.contains("#[Mean"),
        "{hgrm}"
    );
    let svg = std::fs::read_to_string(&plot).expect("the SVG");
    assert!(svg.contains("<svg"), "an SVG");

    assert_started_together(&logs);
    assert_text_report_breaks_an_objective(&logs);
}

/// Started by one `--start-at`, logs count from the same whole second.
fn assert_started_together(logs: &[PathBuf]) {
    let starts: Vec<String> = logs
        .iter()
        .map(|log| {
            let text = std::fs::read_to_string(log).expect("a log");
            text.lines()
                .find(|l| l.starts_with("#[StartTime: "))
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(
        starts[0].contains(".000 ") && starts.iter().all(|s| *s == starts[0]),
        "{starts:?}"
    );
}

/// The text report and its intervals, with an objective broken: exit 3, named in a line.
fn assert_text_report_breaks_an_objective(logs: &[PathBuf]) {
    merge(
        logs,
        &["--interval", "--slo", "p50<1us", "--slo", "lost<=1000000"],
    )
    .assert()
    .code(3)
    .stdout(predicate::str::contains("merged 3 logs: "))
    .stdout(predicate::str::contains("rate: 1500/s asked, "))
    .stdout(predicate::str::is_match(r"(?m)^ +0\.00-1\.00 s +\d+ replies/s").expect("regex"))
    .stdout(
        predicate::str::is_match(r"(?m)^slo broken: p50<1us \(measured [0-9.]+µs\)$")
            .expect("regex"),
    )
    .stdout(predicate::str::contains("slo broken: lost").not())
    // A 2 s run's two whole intervals: what came after them is counted, not a line.
    .stdout(predicate::function(|out: &str| {
        out.lines()
            .filter(|line| line.contains(" replies/s, lost"))
            .count()
            == 2
    }));
}

#[test]
fn logs_that_differ_are_merged_and_their_differences_said() {
    let dir = tempfile::tempdir().expect("a directory");
    let server = start_server(&["--udp", "--tcp", "--bind", "127.0.0.1"]);
    let udp = generator(
        server.port(),
        dir.path(),
        "udp",
        &["--udp", "--requests", "200"],
    );
    let tcp_args = [
        "--tcp",
        "--rate",
        "900",
        "--share",
        "1/3",
        "--duration",
        "1s",
    ];
    let tcp = generator(server.port(), dir.path(), "tcp", &tcp_args);
    let (udp_report, tcp_report) = (report_of(udp.0), report_of(tcp.0));
    let logs = [udp.1, tcp.1];
    let out = merge(&logs, &["--json"]).assert().success();
    let merged: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).expect("JSON");
    let replies =
        udp_report["replies"].as_u64().unwrap_or(0) + tcp_report["replies"].as_u64().unwrap_or(0);
    assert_eq!(merged["replies"].as_u64(), Some(replies));
    assert_eq!(merged["transport"], "udp+tcp");
    let differ = merged["merged"]["differ"].to_string();
    assert!(differ.contains("transports tcp, udp"), "{differ}");
    assert!(differ.contains("not shares of one"), "{differ}");

    // Two shares of three: the rate asked of all is said not sent, and not reached.
    merge(&logs[1..], &[])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "the logs differ: shares 2/3, 3/3 of the rate are missing",
        ))
        .stdout(predicate::str::contains("rate: 900/s asked"))
        .stdout(predicate::str::contains("the asked rate was not reached"));
}

#[test]
fn what_is_no_log_is_refused_with_its_name_and_exit_2() {
    let dir = tempfile::tempdir().expect("a directory");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("a file");
        path
    };
    let cases = [
        (dir.path().join("absent.hlog"), "no such file"),
        (write("empty.hlog", ""), "no interval in it"),
        (
            write("text.hlog", "hello\nworld\n"),
            "not an HdrHistogram interval log",
        ),
        (
            write(
                "broken.hlog",
                "#[upcase-interval: start=0 sent=many lost=0 wrong=0]\n",
            ),
            "line 1: `sent=many` is not a number",
        ),
        (
            write("base64.hlog", "Tag=a,0.000,1.000,1.0,!!!notbase64\n"),
            "not base64",
        ),
        (
            write(
                "inf.hlog",
                "#[upcase-interval: start=inf sent=1 lost=0 wrong=0]\n",
            ),
            "`start=inf` is no time",
        ),
        (PathBuf::from("/dev/zero"), "larger than 1024 MiB"),
    ];
    for (path, why) in cases {
        merge(std::slice::from_ref(&path), &[])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "cannot merge {}",
                path.display()
            )))
            .stderr(predicate::str::contains(why));
    }
    upcase().args(["bench", "merge"]).assert().code(2);
}

#[test]
fn shares_and_start_times_that_cannot_be_are_refused() {
    let bad: [&[&str]; 7] = [
        &["--share", "1/3"],
        &["--rate", "10", "--share", "4/3"],
        &["--rate", "10", "--share", "0/3"],
        &["--start-at", "2001-01-01T00:00:00Z"],
        &["--start-at", "noon"],
        &["--start-at", "+3 fortnights"],
        &["--warmup", "1s", "--requests", "10"],
    ];
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    for args in bad {
        upcase()
            .args([
                "bench",
                "--host",
                "127.0.0.1",
                "--port",
                &server.port().to_string(),
            ])
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::starts_with("upcase: "));
    }
}

#[test]
#[ignore = "needs Python's hdrhistogram in target/pyenv; `bash scripts/test.sh` makes it and runs it"]
fn the_warm_up_is_sent_and_checked_but_in_no_figure() {
    let server = start_server_logged(&["--udp", "--bind", "127.0.0.1"], "info");
    let dir = tempfile::tempdir().expect("a directory");
    let started = std::time::Instant::now();
    let args = [
        "--udp",
        "--rate",
        "400",
        "--warmup",
        "1s",
        "--duration",
        "1s",
    ];
    let (child, log) = generator(server.port(), dir.path(), "warm", &args);
    let report = report_of(child);
    assert!(started.elapsed() >= std::time::Duration::from_secs(2));
    // 400 a second for the second that counts, not 800 for both.
    let replies = report["replies"].as_u64().unwrap_or(0);
    assert!((380..=402).contains(&replies), "{report}");
    assert_eq!(report["seconds"], 1.0);
    let read = hlog_read(std::slice::from_ref(&log));
    assert_eq!(read["count"], report["replies"]);
    let (status, served) = server.signal_and_log("TERM");
    assert!(status.success());
    // The server answered the warm-up too.
    let answered = served
        .lines()
        .find_map(|line| line.split("served ").nth(1))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(answered >= replies + 380, "{served}");
}

//! `upcase bench` as a measuring instrument: open loop and coordinated omission, the length of
//! a run; `files.rs`, the histogram, interval and plot files; `peers.rs`, peers it must work
//! against (socat, an RFC 862 echo written here, xinetd's internal echo).

mod files;
mod peers;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::util::{start_server, upcase};

/// `upcase bench` at `port` on 127.0.0.1, to be given its load.
fn bench_at(port: u16) -> assert_cmd::Command {
    let mut command = upcase();
    command.args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()]);
    command
}

/// `upcase bench` at `port` on 127.0.0.1 with `args` and `--json`; its report, and how long
/// the whole run took.
fn bench_json(port: u16, args: &[&str]) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let output = bench_at(port)
        .arg("--json")
        .args(args)
        .output()
        .expect("run");
    let took = started.elapsed();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned();
    (serde_json::from_str(&last).expect("a JSON report"), took)
}

fn us(report: &serde_json::Value, latency: &str, key: &str) -> f64 {
    report[latency][key].as_f64().unwrap_or(f64::NAN)
}

/// A TCP capitalization server written here, one thread per connection, that waits
/// `delay(now)` before each reply: the test's own picture of a slow or stalling server.
fn delaying_server(delay: impl Fn(Instant) -> Duration + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let delay = std::sync::Arc::new(delay);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let delay = std::sync::Arc::clone(&delay);
            std::thread::spawn(move || answer_slowly(stream, &*delay));
        }
    });
    port
}

fn answer_slowly(mut stream: TcpStream, delay: &dyn Fn(Instant) -> Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf = [0; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            return;
        }
        std::thread::sleep(delay(Instant::now()));
        let reply = buf[..n].to_ascii_uppercase();
        if stream.write_all(&reply).is_err() {
            return;
        }
    }
}

#[test]
fn a_stall_reaches_the_corrected_percentiles_and_not_the_uncorrected() {
    // Stalls for the first 300 ms of every second of its life.
    let born = Instant::now();
    let port = delaying_server(move |now| {
        let into_second = Duration::from_nanos((now - born).as_nanos() as u64 % 1_000_000_000);
        Duration::from_millis(300).saturating_sub(into_second)
    });
    let (report, _) = bench_json(
        port,
        &[
            "--conns",
            "1",
            "--window",
            "1",
            "--rate",
            "500",
            "--duration",
            "3s",
            "--timeout",
            "2s",
        ],
    );
    let corrected = us(&report, "latency", "p90_us");
    let uncorrected = us(&report, "uncorrected_latency", "p90_us");
    // A third of the requests fall due during a stall and wait out its rest: their median
    // wait is 150 ms; the few actually sent into a stall are under a hundredth of them.
    assert!(
        corrected >= 100_000.0,
        "corrected p90 {corrected} µs: {report}"
    );
    assert!(
        uncorrected < 100_000.0,
        "uncorrected p90 {uncorrected} µs: {report}"
    );
    assert_eq!(report["wrong"], 0, "{report}");
}

#[test]
fn a_fixed_delay_is_the_median() {
    let port = delaying_server(|_| Duration::from_millis(5));
    let (report, _) = bench_json(port, &["--duration", "1s"]);
    let median = us(&report, "latency", "p50_us");
    assert!(
        (5_000.0..6_000.0).contains(&median),
        "p50 {median} µs: {report}"
    );
    assert!(
        report["uncorrected_latency"].is_null(),
        "closed loop: {report}"
    );
    assert!(report["rate"].is_null(), "closed loop: {report}");
}

fn limits_off() -> crate::util::Server {
    start_server(&[
        "--bind",
        "127.0.0.1",
        "--max-datagrams-per-source",
        "0",
        "--max-connections-per-source",
        "0",
    ])
}

#[test]
fn an_asked_rate_is_kept_or_the_report_says_it_was_not() {
    let server = limits_off();
    for transport in ["--tcp", "--udp"] {
        let (report, _) = bench_json(
            server.port(),
            &[
                transport,
                "--conns",
                "4",
                "--rate",
                "2000",
                "--duration",
                "1s",
            ],
        );
        let rate = &report["rate"];
        let achieved = rate["achieved"].as_f64().unwrap_or(0.0);
        // Loose: a busy machine may lag, but never send more than asked.
        assert!(
            (1_000.0..=2_010.0).contains(&achieved),
            "{transport}: {report}"
        );
        assert_eq!(rate["asked"], 2000.0, "{report}");
        assert!(report["uncorrected_latency"]["p50_us"].as_f64() > Some(0.0));
        let p999 = us(&report, "latency", "p999_us");
        assert!(us(&report, "latency", "p99_us") <= p999, "{report}");
        assert!(p999 <= us(&report, "latency", "max_us"), "{report}");
    }
    // A million a second over one connection with one request in flight: out of reach.
    let output = bench_at(server.port())
        .args(["--rate", "1000000", "--duration", "500ms"])
        .output()
        .expect("run");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("rate: 1000000/s asked, "), "{text}");
    assert!(text.contains("the asked rate was not reached: "), "{text}");
    assert!(text.contains("ms behind the schedule at the end"), "{text}");
    assert!(
        text.contains("uncorrected latency (from each actual send): p50 "),
        "{text}"
    );
}

#[test]
fn a_run_lasts_its_duration_and_counts_its_rate_over_it() {
    let server = limits_off();
    for transport in ["--tcp", "--udp"] {
        let (report, took) = bench_json(
            server.port(),
            &[
                transport,
                "--duration",
                "1s",
                "--timeout",
                "1s",
                "--conns",
                "8",
            ],
        );
        assert_eq!(report["seconds"], 1.0, "{report}");
        let replies = report["replies"].as_f64().unwrap_or(0.0);
        assert_eq!(
            report["replies_per_second"].as_f64(),
            Some(replies),
            "{report}"
        );
        // Set-up and the wait for the last replies are on top, bounded by the timeout.
        assert!(took >= Duration::from_secs(1), "{took:?}");
        assert!(
            took < Duration::from_secs(2) + Duration::from_secs(3),
            "{took:?}"
        );
    }
}

#[test]
fn threads_share_the_connections_and_the_report_says_how_many() {
    let server = limits_off();
    let (report, _) = bench_json(
        server.port(),
        &["--threads", "3", "--conns", "7", "--requests", "7000"],
    );
    assert_eq!(
        (report["threads"].as_u64(), report["replies"].as_u64()),
        (Some(3), Some(7000))
    );
    // No thread is started without a connection to serve.
    let (report, _) = bench_json(
        server.port(),
        &["--threads", "8", "--conns", "2", "--requests", "10"],
    );
    assert_eq!(report["threads"], 2, "{report}");
    upcase().args(["bench", "--threads", "0"]).assert().code(2);
}

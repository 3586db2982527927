//! `upcase bench` as a measuring instrument: open loop and coordinated omission, the length of
//! a run, the histogram, interval and plot files, and peers it must work against (socat, an
//! RFC 862 echo written here, xinetd's internal echo).

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{Killed, read_until, start_server, upcase};

/// `upcase bench` at `port` on 127.0.0.1 with `args` and `--json`; its report, and how long
/// the whole run took.
fn bench_json(port: u16, args: &[&str]) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let output = upcase()
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
    let output = upcase()
        .args([
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
        ])
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
    upcase()
        .args([
            "bench",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
        ])
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

/// An RFC 862 echo over UDP, written here: every datagram goes back as it came.
fn udp_echo() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    port
}

#[test]
fn a_lost_datagram_frees_its_slot_for_the_next_request() {
    // Answers every other datagram, upper-cased.
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0; 65_536];
        let mut answer = true;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if answer {
                let _ = socket.send_to(&buf[..n].to_ascii_uppercase(), from);
            }
            answer = !answer;
        }
    });
    let (report, _) = bench_json(port, &["--udp", "--requests", "10", "--timeout", "100ms"]);
    assert_eq!(
        (report["replies"].as_u64(), report["lost"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(report["wrong"], 0, "{report}");
}

#[test]
fn an_rfc_862_echo_and_socat_pass() {
    let (report_udp, _) = bench_json(
        udp_echo(),
        &["--udp", "--window", "8", "--duration", "500ms"],
    );
    assert!(report_udp["replies"].as_u64() > Some(0));
    assert_eq!(
        (report_udp["wrong"].as_u64(), report_udp["lost"].as_u64()),
        (Some(0), Some(0))
    );

    let (_socat, port) = socat_echo();
    let (report, _) = bench_json(
        port,
        &["--conns", "4", "--window", "4", "--duration", "500ms"],
    );
    assert!(report["replies"].as_u64() > Some(0));
    assert_eq!(
        (report["wrong"].as_u64(), report["lost"].as_u64()),
        (Some(0), Some(0))
    );
}

/// socat echoing TCP on a free port. A port found free may be taken by another test before
/// socat binds it; socat then exits, and another port is tried.
fn socat_echo() -> (Killed, u16) {
    for _ in 0..5 {
        let port = crate::util::closed_port();
        let mut socat = Killed(
            Command::new("socat")
                .args([
                    &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
                    "PIPE",
                ])
                .stderr(Stdio::null())
                .spawn()
                .expect("socat is installed by scripts/test.sh"),
        );
        let (up, _) = read_until(
            || {
                let exited = matches!(socat.0.try_wait(), Ok(Some(_)));
                (TcpStream::connect(("127.0.0.1", port)).is_ok(), exited)
            },
            |&(up, exited)| up || exited,
        );
        if up {
            return (socat, port);
        }
    }
    panic!("socat could not bind a free port in five tries");
}

fn wait_for_tcp(port: u16, child: &mut Child) {
    let up = read_until(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), |up| *up);
    assert!(up, "nothing listens on {port}: {:?}", child.try_wait());
}

/// xinetd's own echo service (Debian's `xinetd`), on TCP and UDP at one port, from a
/// configuration written here; its connection-rate limit lifted, as a load test needs. A port
/// found free may be taken by another test before xinetd binds it: xinetd then says so in its
/// log and serves fewer services, and another port is tried.
fn xinetd_echo(dir: &Path) -> (Killed, u16) {
    for _ in 0..5 {
        let port = crate::util::closed_port();
        let log = dir.join(format!("xinetd-{port}.log"));
        let mut child = Killed(spawn_xinetd(dir, port, &log));
        let said = read_until(
            || std::fs::read_to_string(&log).unwrap_or_default(),
            |log| log.contains("Started working:"),
        );
        if said.contains("Started working: 2 available services") {
            wait_for_tcp(port, &mut child.0);
            return (child, port);
        }
        assert!(
            said.contains("Started working:"),
            "xinetd did not start: {said}"
        );
    }
    panic!("xinetd could not bind a free port in five tries");
}

fn spawn_xinetd(dir: &Path, port: u16, log: &Path) -> Child {
    let service = |kind: &str, socket: &str, protocol: &str, wait: &str| {
        format!(
            "service echo\n{{\n    type = INTERNAL UNLISTED\n    id = echo-{kind}\n    socket_type = {socket}\n    protocol = {protocol}\n    wait = {wait}\n    user = root\n    bind = 127.0.0.1\n    port = {port}\n}}\n"
        )
    };
    let config = format!(
        "defaults\n{{\n    cps = 1000000 1\n    instances = UNLIMITED\n    per_source = UNLIMITED\n}}\n{}{}",
        service("stream", "stream", "tcp", "no"),
        service("dgram", "dgram", "udp", "yes"),
    );
    let path = dir.join(format!("xinetd-{port}.conf"));
    std::fs::write(&path, config).expect("config");
    let xinetd = if Path::new("/usr/sbin/xinetd").exists() {
        "/usr/sbin/xinetd"
    } else {
        "xinetd"
    };
    Command::new(xinetd)
        .args(["-dontfork", "-filelog"])
        .arg(log)
        .arg("-f")
        .arg(&path)
        .arg("-pidfile")
        .arg(dir.join(format!("xinetd-{port}.pid")))
        .stderr(Stdio::null())
        .spawn()
        .expect("xinetd is installed by scripts/test.sh")
}

#[test]
fn xinetds_internal_echo_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_xinetd, port) = xinetd_echo(dir.path());
    for args in [
        &["--tcp", "--conns", "4", "--window", "4"][..],
        &["--reconnect"],
    ] {
        let (report, _) = bench_json(port, &[args, &["--duration", "500ms"]].concat());
        assert!(report["replies"].as_u64() > Some(0), "{args:?}: {report}");
        assert_eq!(
            (report["wrong"].as_u64(), report["lost"].as_u64()),
            (Some(0), Some(0))
        );
    }
    // Its UDP echo throws away the datagrams that come while it answers one, so it is
    // measured at a pace it can take: each answered, none wrong.
    let (report, _) = bench_json(port, &["--udp", "--rate", "50", "--duration", "1s"]);
    assert!(report["replies"].as_u64() >= Some(40), "{report}");
    assert_eq!(
        (report["wrong"].as_u64(), report["lost"].as_u64()),
        (Some(0), Some(0))
    );
    // Faster, the ones it threw away are counted lost, not taken for answers.
    let (report, _) = bench_json(port, &["--udp", "--requests", "20", "--timeout", "200ms"]);
    let (replies, lost) = (report["replies"].as_u64(), report["lost"].as_u64());
    assert_eq!(replies.zip(lost).map(|(r, l)| r + l), Some(20), "{report}");
    assert_eq!(report["wrong"], 0, "{report}");
}

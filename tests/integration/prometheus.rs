//! A real Prometheus scraping a real server: the counts by transport come back exact through its
//! query API, the scraped text passes `promtool check metrics`, and the deploy directory's
//! configuration and alerting rules pass `promtool check config` and `check rules`. The test
//! command installs Debian's `prometheus` package (which has promtool) when it is missing.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::{
    Killed, http_get, metrics_addr, read_until, start_server, tcp_exchange, udp_exchange,
};

/// Where Debian's package puts a program, which the test command installs.
fn installed(program: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(program);
    assert!(
        path.exists(),
        "{program} is missing: `bash scripts/test.sh` installs Debian's prometheus package"
    );
    path
}

/// The body of an HTTP/1.1 response, chunked or not.
fn body(response: &str) -> String {
    let (head, rest) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return rest.to_owned();
    }
    let mut body = String::new();
    let mut rest = rest;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        body.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    body
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Prometheus scraping `target` every 200 ms, its data in `dir`; its HTTP address.
fn start_prometheus(dir: &Path, target: SocketAddr) -> (Killed, SocketAddr) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 200ms\n  evaluation_interval: 200ms\n\
             scrape_configs:\n  - job_name: upcase\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .expect("write the configuration");
    let web: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let child = Command::new(installed("prometheus"))
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start prometheus");
    (Killed(child), web)
}

/// `upcase_requests_total` by transport, as Prometheus answers the query now.
fn requests_by_transport(prometheus: SocketAddr) -> Vec<(String, u64)> {
    let response = match std::net::TcpStream::connect(prometheus) {
        Ok(_) => http_get(prometheus, "/api/v1/query?query=upcase_requests_total"),
        Err(_) => return Vec::new(), // Not listening yet.
    };
    let Ok(answer) = serde_json::from_str::<serde_json::Value>(&body(&response)) else {
        return Vec::new();
    };
    let mut counts: Vec<(String, u64)> = answer["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .filter_map(|result| {
                    let transport = result["metric"]["transport"].as_str()?.to_owned();
                    let value = result["value"][1].as_str()?.parse().ok()?;
                    Some((transport, value))
                })
                .collect()
        })
        .unwrap_or_default();
    counts.sort();
    counts
}

#[test]
#[ignore = "needs prometheus and promtool; `bash scripts/test.sh` installs them and runs it"]
fn a_real_prometheus_reads_the_exact_counts_by_transport() {
    let mut server = start_server(&["--bind", "127.0.0.1", "--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&mut server);
    for _ in 0..3 {
        assert_eq!(tcp_exchange(server.tcp(), b"over tcp"), b"OVER TCP");
    }
    for _ in 0..5 {
        assert_eq!(udp_exchange(server.udp(), "127.0.0.1:0", b"udp"), b"UDP");
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let (_prometheus, web) = start_prometheus(dir.path(), metrics);
    // Every transport has its series from the start, TLS's and QUIC's at 0 on a server
    // without them.
    let wanted = vec![
        ("quic".to_owned(), 0),
        ("tcp".to_owned(), 3),
        ("tls".to_owned(), 0),
        ("udp".to_owned(), 5),
    ];
    let counts = read_until(|| requests_by_transport(web), |counts| *counts == wanted);
    assert_eq!(counts, wanted, "upcase_requests_total through Prometheus");
}

#[test]
#[ignore = "needs prometheus and promtool; `bash scripts/test.sh` installs them and runs it"]
fn the_scraped_text_passes_promtool() {
    let mut server = start_server(&["--bind", "127.0.0.1", "--metrics", "127.0.0.1:0"]);
    let metrics = metrics_addr(&mut server);
    assert_eq!(tcp_exchange(server.tcp(), b"lint me"), b"LINT ME");
    let text = body(&http_get(metrics, "/metrics"));
    let mut promtool = Command::new(installed("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    std::io::Write::write_all(&mut promtool.stdin.take().expect("stdin"), text.as_bytes())
        .expect("hand promtool the text");
    let checked = promtool.wait_with_output().expect("promtool's verdict");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
#[ignore = "needs prometheus and promtool; `bash scripts/test.sh` installs them and runs it"]
fn the_deploy_configuration_and_alerting_rules_pass_promtool() {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy");
    for (what, file) in [("rules", "upcase-rules.yml"), ("config", "prometheus.yml")] {
        let checked = Command::new(installed("promtool"))
            .args(["check", what])
            .arg(deploy.join(file))
            .output()
            .expect("run promtool");
        assert!(
            checked.status.success(),
            "promtool check {what} {file}: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

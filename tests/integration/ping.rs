//! `upcase client --count N`: probing like ping, and `--json` for the client's modes.

use std::net::UdpSocket;

use predicates::prelude::*;

use crate::util::{closed_port, start_server, upcase};

fn client(port: u16, args: &[&str]) -> assert_cmd::Command {
    let mut command = upcase();
    command
        .args(["client", "--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args);
    command
}

#[test]
fn each_probe_gets_a_line_and_the_run_a_summary() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let port = server.port();
    for transport in ["--tcp", "--udp"] {
        let name = &transport[2..];
        let expected = format!(
            "^PING 127\\.0\\.0\\.1 \\(127\\.0\\.0\\.1:{port}\\) over {name}: 4-byte message\n\
             (4 bytes from 127\\.0\\.0\\.1:{port}: seq=[123] time=[0-9]+\\.[0-9]{{3}} ms\n){{3}}\
             --- 127\\.0\\.0\\.1 upcase ping statistics ---\n\
             3 probes sent, 3 received, 0% loss\n\
             rtt min/avg/max/mdev = [0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+ ms, p50 [0-9.]+ ms, p99 [0-9.]+ ms\n$"
        );
        client(port, &[transport, "--count", "3", "--interval", "50ms"])
            .assert()
            .success()
            .stdout(predicate::str::is_match(expected).expect("regex"))
            .stderr("");
    }
}

#[test]
fn the_probe_carries_the_message_given() {
    let server = start_server(&["--bind", "127.0.0.1", "--udp"]);
    client(server.port(), &["--udp", "--count", "1", "ΐ", "now"])
        .assert()
        .success()
        .stdout(predicate::str::contains("over udp: 6-byte message\n"))
        // Upper case makes three characters of ΐ: the reply is four bytes longer.
        .stdout(predicate::str::contains("\n10 bytes from"));
}

#[test]
fn lost_probes_are_counted_and_some_replies_mean_success() {
    // A server that answers the first two probes and no more.
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("address").port();
    let answering = std::thread::spawn(move || {
        let mut buf = [0; 64];
        for _ in 0..2 {
            let (n, from) = server.recv_from(&mut buf).expect("a probe");
            server
                .send_to(&buf[..n].to_ascii_uppercase(), from)
                .expect("reply");
        }
        server
    });
    client(
        port,
        &[
            "--udp",
            "--count",
            "4",
            "--interval",
            "10ms",
            "--timeout",
            "200ms",
        ],
    )
    .assert()
    .success()
    .stdout(predicate::str::contains(format!(
        "no reply from 127.0.0.1:{port}: seq=3: no reply within 200ms\n"
    )))
    .stdout(predicate::str::contains(
        "4 probes sent, 2 received, 50% loss\n",
    ));
    // Kept open until the probes are done: closed, it would refuse them instead.
    drop(answering.join().expect("the answering thread"));
}

#[test]
fn nothing_back_exits_1() {
    let port = closed_port();
    client(port, &["--udp", "--count", "2", "--interval", "10ms"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "no reply from 127.0.0.1:{port}: seq=2: refused (port unreachable)\n"
        )))
        .stdout(predicate::str::ends_with("2 probes sent, 0 received, 100% loss\n"))
        .stderr(format!(
            "upcase: no reply to any of 2 probes to 127.0.0.1:{port}; is the server running there?\n"
        ));

    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    client(
        port,
        &[
            "--udp",
            "--count",
            "2",
            "--interval",
            "10ms",
            "--timeout",
            "100ms",
        ],
    )
    .assert()
    .code(1)
    .stdout(predicate::str::contains("seq=1: no reply within 100ms\n"));

    client(closed_port(), &["--tcp", "--count", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("(connection refused)\n"));
}

#[test]
fn json_probes_and_summary_are_one_object_a_line() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let port = server.port();
    let output = client(
        port,
        &["--udp", "--count", "2", "--interval", "10ms", "--json"],
    )
    .output()
    .expect("run");
    assert!(output.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(output.stdout)
        .expect("text")
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (i, probe) in lines[..2].iter().enumerate() {
        assert_eq!(probe["seq"], i as u64 + 1);
        assert_eq!(probe["transport"], "udp");
        assert_eq!(probe["server"], format!("127.0.0.1:{port}"));
        assert_eq!(probe["bytes"], 4);
        assert!(probe["rtt_ms"].as_f64() > Some(0.0));
    }
    let summary = &lines[2]["summary"];
    assert_eq!(
        (summary["sent"].as_u64(), summary["received"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(summary["loss_percent"], 0.0);
    assert!(summary["min_ms"].as_f64() <= summary["p99_ms"].as_f64());
}

#[test]
fn json_one_shot_reports_the_reply_and_its_round_trip() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    for transport in ["--tcp", "--udp"] {
        let output = client(server.port(), &[transport, "--json", "straße"])
            .output()
            .expect("run");
        assert!(output.status.success());
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        assert_eq!(report["transport"], &transport[2..]);
        assert_eq!(report["reply"], "STRASSE");
        assert_eq!(
            (
                report["request_bytes"].as_u64(),
                report["reply_bytes"].as_u64()
            ),
            (Some(7), Some(7))
        );
        assert!(report["rtt_ms"].as_f64() > Some(0.0));
    }
}

#[test]
fn json_and_interval_outside_their_modes_are_usage_errors() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    client(server.port(), &["--json"])
        .write_stdin("from a pipe\n")
        .assert()
        .code(2)
        .stdout("")
        .stderr("upcase: --json needs a MESSAGE or --count: replies to standard input are printed as they come; see 'upcase client --help'\n");
    client(server.port(), &["--interval", "1s", "hello"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "upcase: the following required arguments were not provided: --count <N>",
        ));
    client(server.port(), &["--count", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "upcase: invalid value '0' for '--count <N>'",
        ));
}

#[test]
fn ctrl_c_ends_the_probing_with_its_summary() {
    let server = start_server(&["--bind", "127.0.0.1", "--udp"]);
    let mut child = std::process::Command::new(crate::util::binary())
        .args(["client", "--udp", "--host", "127.0.0.1", "--port"])
        .arg(server.port().to_string())
        .args(["--count", "1000", "--interval", "50ms"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the client");
    // Interrupted once it is probing: after its header and two probes' lines.
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut stdout = String::new();
    for _ in 0..3 {
        std::io::BufRead::read_line(&mut lines, &mut stdout).expect("a line");
    }
    crate::util::send_signal(child.id(), "INT");
    let status = crate::util::wait_with_patience(&mut child);
    std::io::Read::read_to_string(&mut lines, &mut stdout).expect("read");
    assert!(status.success(), "{status:?}: {stdout}");
    let summary = stdout
        .lines()
        .find(|line| line.contains(" probes sent, "))
        .expect("a summary");
    let sent: u64 = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!((1..1000).contains(&sent), "{summary}");
    assert!(summary.ends_with(", 0% loss"), "{summary}");
}

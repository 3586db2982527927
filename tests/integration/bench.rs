//! `upcase bench` against upcase, the textbook's servers, and servers that answer wrongly.

use predicates::prelude::*;

use crate::util::{closed_port, start_server, start_textbook_server, upcase};

fn bench(port: u16, args: &[&str]) -> assert_cmd::Command {
    let mut command = upcase();
    command.args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()]);
    if !args.contains(&"--duration") && !args.contains(&"--requests") {
        command.args(["--duration", "300ms"]);
    }
    command.args(args);
    command
}

#[test]
fn every_reply_from_upcase_is_checked_and_counted() {
    let server = start_server(&["--bind", "127.0.0.1", "--max-datagrams-per-source", "0"]);
    for args in [
        &["--tcp"][..],
        &["--udp"],
        &["--tcp", "--conns", "3", "--window", "8"],
        &["--udp", "--window", "16"],
        &["--reconnect"],
    ] {
        bench(server.port(), args)
            .assert()
            .success()
            .stdout(
                predicate::str::is_match(r"replies: [1-9][0-9]* \([0-9]+/s\), lost 0, wrong 0\n")
                    .expect("regex"),
            )
            .stdout(predicate::str::contains("latency: p50 "));
    }
}

/// The JSON report of a run that must succeed.
fn json_report(port: u16, args: &[&str]) -> serde_json::Value {
    let output = bench(port, &[args, &["--json"]].concat())
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

#[test]
fn json_report_has_every_figure() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let report = json_report(server.port(), &["--size", "100", "--window", "4"]);
    assert_eq!(report["transport"], "tcp");
    assert_eq!(
        (report["size"].as_u64(), report["window"].as_u64()),
        (Some(100), Some(4))
    );
    assert!(report["replies"].as_u64() > Some(0));
    assert_eq!(report["wrong"].as_u64(), Some(0));
    let latency = &report["latency"];
    assert!(latency["p50_us"].as_f64() <= latency["p99_us"].as_f64());
    assert!(latency["p99_us"].as_f64() <= latency["max_us"].as_f64());
}

#[test]
fn requests_bound_the_run_to_that_many() {
    let server = start_server(&[
        "--bind",
        "127.0.0.1",
        "--max-datagrams-per-source",
        "0",
        "--max-connections-per-source",
        "0",
    ]);
    let port = server.port();
    // Over TCP every request is answered: exactly that many replies, however many connections
    // share them. 8 MiB in 1 MiB requests is the 1 GiB stream's shape, made small.
    for (args, requests) in [
        (
            &["--tcp", "--conns", "3", "--window", "4", "--requests", "50"][..],
            50,
        ),
        (
            &[
                "--tcp",
                "--size",
                "1048576",
                "--window",
                "4",
                "--requests",
                "8",
            ],
            8,
        ),
        (&["--reconnect", "--window", "2", "--requests", "30"], 30),
    ] {
        let report = json_report(port, args);
        assert_eq!(
            (report["replies"].as_u64(), report["lost"].as_u64()),
            (Some(requests), Some(0)),
            "{args:?}"
        );
    }
    // Over UDP a datagram may be lost, and is counted so.
    let report = json_report(
        port,
        &["--udp", "--conns", "2", "--window", "8", "--requests", "50"],
    );
    assert_eq!(
        report["replies"]
            .as_u64()
            .zip(report["lost"].as_u64())
            .map(|(r, l)| r + l),
        Some(50)
    );
    // With --duration too, the run ends at whichever comes first.
    let report = json_report(port, &["--duration", "300ms", "--requests", "1000000000"]);
    assert!(report["seconds"].as_f64() < Some(30.0));
    assert!(report["replies"].as_u64() < Some(1_000_000_000));
}

#[test]
fn echo_servers_pass_too() {
    let server = start_server(&[
        "--bind",
        "127.0.0.1",
        "--transform",
        "echo",
        "--max-datagrams-per-source",
        "0",
    ]);
    bench(server.port(), &["--udp"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrong 0"));
}

#[test]
fn the_textbook_servers_can_be_measured() {
    let (mut tcp, port) = start_textbook_server("TCPServer.py");
    bench(port, &["--reconnect"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrong 0"));
    let _ = tcp.kill();
    let (mut udp, port) = start_textbook_server("UDPServer.py");
    bench(port, &["--udp"])
        .assert()
        .success()
        .stdout(predicate::str::contains("wrong 0"));
    let _ = udp.kill();
}

#[test]
fn wrong_replies_fail_the_run_after_the_report() {
    let server = start_server(&["--bind", "127.0.0.1", "--transform", "count=s"]);
    bench(server.port(), &["--udp"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("wrong "))
        .stderr(predicate::str::ends_with(
            "replies did not answer their request as an echo or upper-case server would\n",
        ));
}

#[test]
fn a_progress_line_comes_each_second() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    bench(server.port(), &["--duration", "1500ms"])
        .assert()
        .success()
        .stderr(predicate::str::is_match(r"^upcase bench: 1s, [0-9]+ replies/s\n").expect("regex"));
}

#[test]
fn bad_flags_exit_2_and_no_server_exits_1() {
    upcase()
        .args(["bench", "--size", "5"])
        .assert()
        .code(2)
        .stderr("upcase: invalid value '5' for '--size <BYTES>': 5 is not in 10..=67108864; see 'upcase bench --help'\n");
    upcase()
        .args(["bench", "--requests", "0"])
        .assert()
        .code(2)
        .stderr("upcase: invalid value '0' for '--requests <N>': 0 is not in 1..=4294967295; see 'upcase bench --help'\n");
    upcase()
        .args(["bench", "--udp", "--reconnect"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "upcase: the argument '--udp' cannot be used with '--reconnect'",
        ));
    let server = start_server(&["--udp", "--bind", "127.0.0.1"]);
    bench(server.port(), &["--udp", "--size", "70000"])
        .assert()
        .code(2)
        .stderr("upcase: requests of 70000 bytes do not fit in a UDP datagram (65507 at most); use --tcp or a smaller --size\n");
    bench(closed_port(), &["--tcp"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "upcase: cannot connect over tcp to 127.0.0.1:",
        ));
}

#[test]
fn a_server_that_stops_answering_ends_the_run_with_its_requests_lost() {
    // Accepts, then neither reads nor writes: small requests go unanswered, large ones fill
    // the socket buffers and block the sender.
    let hole = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = hole.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let held: Vec<_> = hole.incoming().collect();
        drop(held);
    });
    for size in ["64", "4000000"] {
        bench(
            port,
            &[
                "--tcp",
                "--window",
                "4",
                "--size",
                size,
                "--timeout",
                "300ms",
            ],
        )
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(1)
        .stdout(
            predicate::str::is_match(r"replies: 0 \(0/s\), lost [1-4], wrong 0\n").expect("regex"),
        )
        .stderr("upcase: no reply came; is the server running there?\n");
    }
}

/// An echo server that never closes: it sends back what it reads, and after the client's end of
/// stream keeps the connection open for as long as the test runs.
fn echo_that_never_closes() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (hold, held) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _kept: Vec<std::net::TcpStream> = held.iter().collect();
    });
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0; 4096];
            while let Ok(n) = std::io::Read::read(&mut stream, &mut buf) {
                if n == 0 || std::io::Write::write_all(&mut stream, &buf[..n]).is_err() {
                    break;
                }
            }
            let _ = hold.send(stream);
        }
    });
    port
}

#[test]
fn reconnect_counts_a_reply_whole_once_all_its_bytes_are_in() {
    let port = echo_that_never_closes();
    let report = json_report(
        port,
        &["--reconnect", "--requests", "30", "--timeout", "5s"],
    );
    assert_eq!(report["replies"], 30, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["wrong"], 0, "{report}");
}

#[test]
fn a_run_of_no_time_is_a_usage_error() {
    for zero in ["0s", "0ms"] {
        upcase()
            .args(["bench", "--duration", zero])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "must be more than zero; a run of no time measures nothing",
            ));
    }
}

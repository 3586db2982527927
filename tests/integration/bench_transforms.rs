//! `upcase bench --transform NAME`: every built-in transform's replies are checked, over every
//! transport and pattern, as the server of that transform makes them; a server of another
//! transform fails the run; and what a transform that answers lines cannot be checked with
//! is refused before any load.

use predicates::prelude::*;

use crate::util::pki::{Pki, Validity, arg};
use crate::util::{start_server, upcase};

const TRANSFORMS: [&str; 4] = ["upper", "lower", "echo", "count=s"];

/// `upcase bench` to `port` on 127.0.0.1 for 300 ms (or `--requests`), told `transform`.
fn bench(port: u16, transform: &str, args: &[&str]) -> assert_cmd::Command {
    let mut command = upcase();
    command.args(["bench", "--host", "127.0.0.1", "--port", &port.to_string()]);
    command.args(["--transform", transform]);
    if !args.contains(&"--requests") {
        command.args(["--duration", "300ms"]);
    }
    command.args(args);
    command
}

/// Every reply came and answered its request.
fn all_right() -> impl Predicate<str> {
    predicate::str::is_match(r"replies: [1-9][0-9]* \([0-9]+/s\), lost 0, wrong 0\n")
        .expect("regex")
}

#[test]
fn every_built_in_transform_is_checked_over_tcp_and_udp() {
    for transform in TRANSFORMS {
        let server = start_server(&[
            "--bind",
            "127.0.0.1",
            "--transform",
            transform,
            "--max-datagrams-per-source",
            "0",
            "--max-connections-per-source",
            "0",
        ]);
        for args in [
            &["--tcp", "--conns", "2", "--window", "8"][..],
            // Requests of 60,000 bytes (a line within --max-line's 64 KiB) are answered in
            // pieces: each reply is cut where it ends.
            &["--tcp", "--size", "60000", "--requests", "40"],
            &["--udp", "--conns", "4"],
            &["--reconnect", "--conns", "2"],
        ] {
            bench(server.port(), transform, args)
                .assert()
                .success()
                .stdout(all_right());
        }
    }
}

#[test]
fn every_built_in_transform_is_checked_over_tls_and_quic() {
    let pki = Pki::new();
    let ca = pki.ca("transforms");
    let pair = pki.server(&ca, "server", &["localhost"], Validity::Now);
    for transform in TRANSFORMS {
        let server = start_server(&[
            "--tls",
            "--quic",
            "--cert",
            arg(&pair.cert),
            "--key",
            arg(&pair.key),
            "--transform",
            transform,
        ]);
        for (flag, port) in [
            ("--tls", server.tls().port()),
            ("--quic", server.quic().port()),
        ] {
            let mut command = upcase();
            command
                .args([
                    "bench",
                    flag,
                    "--host",
                    "localhost",
                    "--cacert",
                    arg(&ca.cert),
                ])
                .args(["--port", &port.to_string(), "--transform", transform])
                .args(["--window", "4", "--requests", "200"]);
            command.assert().success().stdout(all_right());
        }
    }
}

#[test]
fn a_server_of_another_transform_fails_the_run() {
    let count = start_server(&["--bind", "127.0.0.1", "--transform", "count=s"]);
    let upper = start_server(&["--bind", "127.0.0.1"]);
    // Over TCP, a count server answers only lines: told upper, the bench sends none, and
    // gets no reply (the bench's own failure, tested elsewhere); each datagram is answered.
    for (port, told, transports) in [
        (count.port(), "upper", &["--udp"][..]),
        (count.port(), "count=t", &["--tcp", "--udp"]),
        (upper.port(), "count=s", &["--tcp", "--udp"]),
        (upper.port(), "echo", &["--tcp", "--udp"]),
    ] {
        for transport in transports {
            bench(port, told, &[transport])
                .assert()
                .code(1)
                .stdout(predicate::str::is_match(r"wrong [1-9]").expect("regex"))
                .stderr(predicate::str::ends_with(format!(
                    "replies did not answer their request as a server of --transform {told} \
                     would\n"
                )));
        }
    }
}

#[test]
fn what_a_transform_of_lines_cannot_check_is_refused_before_the_load() {
    // Nothing listens there: each is refused before a request is sent.
    for (args, says) in [
        (&["--size", "10"][..], "--size must be at least 11"),
        (
            &["--udp", "--window", "2"],
            "use --window 1 and more --conns",
        ),
    ] {
        bench(9, "count=s", args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(says));
    }
    bench(9, "shout", &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("shout"));
}

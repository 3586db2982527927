//! `upcase server` as users run it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;

use predicates::prelude::*;

use crate::util::{
    binary, http_get, spawn_server, start_server, start_server_logged, tcp_exchange, udp_exchange,
    upcase,
};

#[test]
fn ready_lines_name_each_socket_with_its_real_address() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let (udp, tcp) = (server.udp(), server.tcp());
    assert_eq!(udp.ip().to_string(), "127.0.0.1");
    assert_ne!(udp.port(), 0, "the real port, not 0");
    assert_eq!(udp, tcp, "both transports on one port");
    assert_eq!(udp_exchange(udp, "127.0.0.1:0", b"hello"), b"HELLO");
    assert_eq!(tcp_exchange(tcp, b"hello"), b"HELLO");
}

#[test]
fn default_bind_is_every_address_dual_stack() {
    let server = start_server(&[]);
    assert_eq!(server.tcp().ip().to_string(), "::");
    let port = server.port();
    let v4 = format!("127.0.0.1:{port}").parse().expect("address");
    let v6 = format!("[::1]:{port}").parse().expect("address");
    assert_eq!(udp_exchange(v4, "127.0.0.1:0", b"v4"), b"V4");
    assert_eq!(udp_exchange(v6, "[::1]:0", b"v6"), b"V6");
    assert_eq!(tcp_exchange(v4, b"v4"), b"V4");
    assert_eq!(tcp_exchange(v6, b"v6"), b"V6");
}

#[test]
fn ipv4_clients_of_the_dual_stack_socket_are_logged_as_ipv4() {
    let server = start_server_logged(&[], "debug");
    let v4 = format!("127.0.0.1:{}", server.port())
        .parse()
        .expect("address");
    assert_eq!(udp_exchange(v4, "127.0.0.1:0", b"v4"), b"V4");
    assert_eq!(tcp_exchange(v4, b"v4"), b"V4");
    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    assert!(log.contains("datagram from 127.0.0.1:"), "{log}");
    assert!(log.contains("connection from 127.0.0.1:"), "{log}");
    assert!(!log.contains("::ffff:"), "{log}");
}

#[test]
fn udp_alone_and_tcp_alone() {
    let server = start_server(&["--udp", "--bind", "::1"]);
    assert!(server.tcp.is_none());
    assert!(
        TcpStream::connect(("::1", server.port())).is_err(),
        "no TCP socket"
    );
    assert_eq!(udp_exchange(server.udp(), "[::1]:0", b"udp"), b"UDP");

    let server = start_server(&["--tcp", "--bind", "::1"]);
    assert!(server.udp.is_none());
    assert_eq!(tcp_exchange(server.tcp(), b"tcp"), b"TCP");
}

#[test]
fn transforms_are_chosen_by_name() {
    for (name, message, reply) in [
        ("upper", "straße", "STRASSE"),
        ("lower", "ShOuT", "shout"),
        ("echo", "As Is ß", "As Is ß"),
        ("count=s", "mississippi\nsass", "4\n3\n"),
    ] {
        let server = start_server(&["--bind", "127.0.0.1", "--transform", name]);
        assert_eq!(
            tcp_exchange(server.tcp(), message.as_bytes()),
            reply.as_bytes(),
            "{name}"
        );
        assert_eq!(
            udp_exchange(server.udp(), "127.0.0.1:0", message.as_bytes()),
            reply.as_bytes()
        );
    }
}

#[test]
fn sigterm_and_ctrl_c_exit_zero() {
    for signal in ["TERM", "INT"] {
        let server = start_server(&["--bind", "127.0.0.1"]);
        let status = server.signal(signal);
        assert_eq!(status.code(), Some(0), "after SIG{signal}");
    }
}

#[test]
fn open_connection_is_answered_then_closed_on_sigterm() {
    let server = start_server(&[
        "--bind",
        "127.0.0.1",
        "--tcp",
        "--transform",
        "count=s",
        "--drain-timeout",
        "300ms",
    ]);
    let mut stream = TcpStream::connect(server.tcp()).expect("connect");
    stream
        .set_read_timeout(Some(crate::util::PATIENCE))
        .expect("timeout");
    stream.write_all(b"sss\nss").expect("send");
    let mut first = [0; 2];
    stream.read_exact(&mut first).expect("first reply");
    assert_eq!(&first, b"3\n");
    assert_eq!(server.signal("TERM").code(), Some(0));
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("clean close");
    assert_eq!(rest, b"2\n");
}

#[test]
fn config_file_sets_and_flags_override() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("upcase.toml");
    std::fs::write(
        &path,
        "tcp = true\nbind = \"127.0.0.1\"\nport = 0\ntransform = \"lower\"\n",
    )
    .expect("write config");
    let config = path.to_str().expect("utf-8 path");

    let mut command = Command::new(binary());
    command.args(["server", "--config", config]);
    let server = spawn_server(&mut command, &["tcp"]);
    assert_eq!(tcp_exchange(server.tcp(), b"FROM FILE"), b"from file");
    drop(server);

    let mut command = Command::new(binary());
    command.args([
        "server",
        "--config",
        config,
        "--transform",
        "upper",
        "--udp",
    ]);
    let server = spawn_server(&mut command, &["udp"]);
    assert_eq!(udp_exchange(server.udp(), "127.0.0.1:0", b"flag"), b"FLAG");
}

#[test]
fn config_errors_exit_2_naming_file_and_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    let config = path.to_str().expect("utf-8 path").to_owned();
    for (text, expected) in [
        (
            "port = 0\nshout = true\n",
            format!("upcase: config file {config}, line 2: unknown field `shout`"),
        ),
        (
            "transform = \"yell\"\n",
            format!(
                "upcase: config file {config}: bad value for `transform`: unknown transform `yell`"
            ),
        ),
        (
            "port = \"high\"\n",
            format!("upcase: config file {config}, line 1: invalid type: string \"high\""),
        ),
    ] {
        std::fs::write(&path, text).expect("write config");
        upcase()
            .args(["server", "--config", &config])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::starts_with(expected))
            .stderr(
                predicate::str::ends_with("\n")
                    .and(predicate::function(|s: &str| s.lines().count() == 1)),
            );
    }
    upcase()
        .args(["server", "--config", "/nonexistent/upcase.toml"])
        .assert()
        .code(2)
        .stderr("upcase: cannot read config file /nonexistent/upcase.toml: no such file or directory; check the path given to --config\n");
}

#[test]
fn usage_errors_exit_2_in_one_line() {
    for (args, expected) in [
        (
            &["server", "--transform", "shout"][..],
            "upcase: invalid value 'shout' for '--transform <NAME>': unknown transform `shout`: choose upper, lower, echo or count=C; see 'upcase server --help'\n",
        ),
        (
            &["server", "--transform", "count=ss"],
            "upcase: invalid value 'count=ss' for '--transform <NAME>': transform `count=ss` needs exactly one character after `count=` (not a newline), like count=s; see 'upcase server --help'\n",
        ),
        (
            &["server", "--port", "65536"],
            "upcase: invalid value '65536' for '--port <N>': 65536 is not in 0..=65535; see 'upcase server --help'\n",
        ),
        (
            &["server", "--bind", "localhost"],
            "upcase: invalid value 'localhost' for '--bind <ADDR>': invalid IP address syntax; see 'upcase server --help'\n",
        ),
        (
            &["server", "--loud"],
            "upcase: unexpected argument '--loud' found; see 'upcase server --help'\n",
        ),
        (
            &[],
            "upcase: no command given: use 'upcase server' or 'upcase client'; see 'upcase --help'\n",
        ),
    ] {
        upcase()
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(expected);
    }
}

#[test]
fn port_in_use_exits_1_saying_what_to_do() {
    let server = start_server(&["--bind", "127.0.0.1", "--tcp"]);
    let port = server.port().to_string();
    upcase()
        .args(["server", "--tcp", "--bind", "127.0.0.1", "--port", &port])
        .assert()
        .code(1)
        .stdout("")
        .stderr(format!(
            "upcase: cannot listen on tcp 127.0.0.1:{port}: address already in use; pick another --port or --bind, or stop what holds it\n"
        ));
}

#[test]
fn help_and_version_exit_0() {
    upcase()
        .args(["server", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--transform <NAME>"));
    upcase()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("upcase "));
}

#[test]
fn default_bind_falls_back_to_ipv4_where_the_host_has_no_ipv6() {
    let dir = tempfile::tempdir().expect("temp dir");
    let shim = dir.path().join("no_ipv6.so");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/no_ipv6.c");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("a C compiler (cc) builds the test's IPv6-less shim");
    assert!(built.success());

    let mut command = Command::new(binary());
    command
        .args(["server", "--port", "0"])
        .env("LD_PRELOAD", &shim);
    let server = spawn_server(&mut command, &["udp", "tcp"]);
    assert_eq!(
        server.udp().to_string(),
        format!("0.0.0.0:{}", server.port())
    );
    assert_eq!(
        server.tcp().to_string(),
        format!("0.0.0.0:{}", server.port())
    );
    let v4 = format!("127.0.0.1:{}", server.port())
        .parse()
        .expect("address");
    assert_eq!(tcp_exchange(v4, b"ipv4 only"), b"IPV4 ONLY");
    assert_eq!(udp_exchange(v4, "127.0.0.1:0", b"ipv4 only"), b"IPV4 ONLY");
}

#[test]
fn v_and_q_set_the_log_level_over_rust_log() {
    let server = crate::util::start_server_logged(&["--bind", "127.0.0.1", "--tcp", "-v"], "error");
    assert_eq!(tcp_exchange(server.tcp(), b"hi"), b"HI");
    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    assert!(
        log.contains(" INFO ") && log.contains("serving tcp (bound); transform upper; workers "),
        "{log}"
    );
    assert!(
        log.contains(" DEBUG ") && log.contains(", 2 bytes in, 2 out"),
        "{log}"
    );

    let server = crate::util::start_server_logged(&["--bind", "127.0.0.1", "--tcp", "-q"], "debug");
    assert_eq!(tcp_exchange(server.tcp(), b"hi"), b"HI");
    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    assert!(!log.contains(" INFO ") && !log.contains(" DEBUG "), "{log}");

    upcase()
        .args(["server", "-v", "-q"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "upcase: the argument '--verbose...' cannot be used with '--quiet...'",
        ));
}

#[test]
fn counters_are_served_to_prometheus_and_printed_on_sigusr1() {
    let (mut server, mut log) = crate::util::start_server_watched(
        &["--bind", "127.0.0.1", "--metrics", "127.0.0.1:0"],
        "error",
    );
    let line = server.next_line();
    let metrics: std::net::SocketAddr = line
        .strip_prefix("listening on http ")
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not a metrics ready line: {line:?}"));
    assert_eq!(tcp_exchange(server.tcp(), b"hello"), b"HELLO");
    assert_eq!(udp_exchange(server.udp(), "127.0.0.1:0", b"hi"), b"HI");
    let open = TcpStream::connect(server.tcp()).expect("connect");
    // Counted once the server has accepted it, and the exchanges once they are closed.
    let response = crate::util::read_until(
        || http_get(metrics, "/metrics"),
        |response| {
            response.contains("\nupcase_open_connections 1\n")
                && response.contains("\nupcase_requests_total{transport=\"tcp\"} 1\n")
                && response.contains("\nupcase_requests_total{transport=\"udp\"} 1\n")
        },
    );
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{response}"
    );
    for sample in [
        "\nupcase_requests_total{transport=\"tcp\"} 1\n",
        "\nupcase_requests_total{transport=\"udp\"} 1\n",
        "\nupcase_received_bytes_total{transport=\"tcp\"} 5\n",
        "\nupcase_received_bytes_total{transport=\"udp\"} 2\n",
        "\nupcase_sent_bytes_total{transport=\"tcp\"} 5\n",
        "\nupcase_sent_bytes_total{transport=\"udp\"} 2\n",
        "\nupcase_build_info{version=\"0.1.0\"} 1\n",
        "\nupcase_open_connections 1\n",
        "\nupcase_dropped_total{reason=\"denied\"} 0\n",
    ] {
        assert!(
            response.contains(sample),
            "{sample:?} missing from {response}"
        );
    }
    assert!(http_get(metrics, "/").starts_with("HTTP/1.1 404 Not Found\r\n"));

    crate::util::send_signal(server.child.id(), "USR1");
    let counters = log.wait_for("counters: ");
    drop(open);
    crate::util::send_signal(server.child.id(), "TERM");
    assert!(crate::util::wait_with_patience(&mut server.child).success());
    assert!(
        counters.contains("counters: served 2, 7 bytes in, 7 out; 1 connections open\n"),
        "{counters}"
    );
}

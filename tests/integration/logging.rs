//! The server's log as log shippers read it: `--log-format json`, one object a line.

use predicates::prelude::*;

use crate::util::{
    send_signal, start_server_watched, tcp_exchange, udp_exchange, upcase, wait_with_patience,
};

/// The server's whole log for one TCP and one UDP exchange and a SIGTERM, at debug level.
fn log_of_a_run(format: &str) -> String {
    let (mut server, watch) =
        start_server_watched(&["--bind", "127.0.0.1", "--log-format", format], "debug");
    assert_eq!(tcp_exchange(server.tcp(), b"hello"), b"HELLO");
    assert_eq!(udp_exchange(server.udp(), "127.0.0.1:0", b"hi"), b"HI");
    send_signal(server.child.id(), "TERM");
    assert!(wait_with_patience(&mut server.child).success());
    watch.rest()
}

#[test]
fn json_logs_are_an_object_a_line_with_the_text_lines_fields() {
    let log = log_of_a_run("json");
    let mut messages = Vec::new();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON object: {line:?}: {error}"));
        let field = |name: &str| {
            entry[name]
                .as_str()
                .unwrap_or_else(|| panic!("no string {name:?} in {line}"))
                .to_owned()
        };
        let timestamp = field("timestamp");
        assert!(
            timestamp.len() > 20 && timestamp.ends_with('Z') && timestamp.contains('T'),
            "an RFC 3339 time in UTC: {line}"
        );
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&field("level").as_str()),
            "{line}"
        );
        assert!(field("target").starts_with("upcase_server"), "{line}");
        messages.push(field("message"));
    }
    for wanted in [
        "connection from 127.0.0.1:",
        "datagram from 127.0.0.1:",
        "stopped: served 2, 7 bytes in, 7 out",
    ] {
        assert!(
            messages.iter().any(|message| message.contains(wanted)),
            "no message with {wanted:?} in:\n{log}"
        );
    }
}

#[test]
fn text_logs_stay_the_default_and_say_the_same() {
    let log = log_of_a_run("text");
    assert!(!log.is_empty());
    assert!(log.lines().all(|line| !line.starts_with('{')), "{log}");
    assert!(
        log.contains("stopped: served 2, 7 bytes in, 7 out"),
        "{log}"
    );
    assert!(log.contains(" INFO "), "{log}");
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    upcase()
        .args(["server", "--log-format", "xml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--log-format"))
        .stderr(predicate::str::contains("text, json"));
}

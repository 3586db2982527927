//! Absurd values end in one line and exit 2, naming the bound, never an abort: every numeric,
//! duration and address flag that no machine can honour, by flag and in the config file.

use crate::util::{PATIENCE, upcase};

/// Runs `upcase ARGS`, which must exit 2 with one line on stderr containing `says`.
fn refused(args: &[&str], says: &str) {
    let out = upcase().args(args).timeout(PATIENCE).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
}

#[test]
fn the_load_generator_refuses_what_no_machine_can_honour() {
    for (args, says) in [
        (&["bench", "--window", "4294967295"][..], "4096"),
        (&["bench", "--conns", "1000001"], "1000000"),
        (&["bench", "--interval", "1ns"], "at least 100ms"),
        (&["bench", "--timeout", "0s"], "no reply comes in no time"),
        (&["bench", "--timeout", "1000000000y"], "at most 24h"),
        (&["bench", "--duration", "1000000000y"], "at most 24h"),
        (
            &["bench", "--conns", "1000", "--window", "4096"],
            "at most 1048576",
        ),
    ] {
        refused(args, says);
    }
}

#[test]
fn connections_past_the_open_file_limit_are_refused_up_front() {
    // A million connections under a limit of 4096 descriptors: refused at once, saying which
    // limit, rather than failing thousands in.
    let out = std::process::Command::new("prlimit")
        .args(["--nofile=4096:4096", "--"])
        .arg(crate::util::binary())
        .args(["bench", "--port", "9", "--conns", "1000000"])
        .output()
        .expect("prlimit");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "1000000 sockets need 1000064 open files, and this process may open at most 4096"
        ),
        "{stderr}"
    );
}

#[test]
fn the_client_refuses_waits_past_a_day() {
    refused(&["client", "--timeout", "1000000000y", "x"], "at most 24h");
    refused(&["client", "--max-time", "2days", "x"], "at most 24h");
}

#[test]
fn the_server_refuses_group_addresses_and_timeouts_past_a_year() {
    for (args, says) in [
        (
            &["server", "--bind", "224.0.0.1"][..],
            "--bind 224.0.0.1: a multicast address",
        ),
        (
            &["server", "--bind", "255.255.255.255"],
            "the broadcast address",
        ),
        (&["server", "--bind", "ff02::1"], "a multicast address"),
        (
            &["server", "--idle-timeout", "1000000000y"],
            "more than a year",
        ),
        (
            &["server", "--drain-timeout", "400days"],
            "more than a year",
        ),
    ] {
        refused(args, says);
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    for (text, says) in [
        (
            "bind = \"224.0.0.1\"\n",
            "bad value for `bind`: a multicast address",
        ),
        (
            "idle-timeout = \"1000000000y\"\n",
            "bad value for `idle-timeout`",
        ),
    ] {
        let path = dir.path().join("upcase.toml");
        std::fs::write(&path, text).expect("write");
        refused(
            &["server", "--config", path.to_str().expect("UTF-8 path")],
            says,
        );
    }
}

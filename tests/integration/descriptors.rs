//! `upcase server` short of descriptors and threads: a failed accept is logged at most once a
//! second while the server backs off, and a number of workers it cannot start is refused up
//! front with a clear error.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::util::{Server, binary, spawn_server_logged, upcase};

/// A server whose process may hold at most `files` descriptors, logging at warn level.
fn short_of_descriptors(files: u32) -> Server {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={files}:{files}"))
        .arg(binary())
        .args([
            "server",
            "--tcp",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--workers",
            "1",
        ])
        .args(["--max-connections-per-source", "0"])
        .env("RUST_LOG", "warn");
    spawn_server_logged(&mut command, &["tcp"])
}

#[test]
fn out_of_descriptors_the_accept_failure_is_logged_at_most_once_a_second() {
    let server = short_of_descriptors(40);
    // More connections than the server has descriptors for: the kernel completes them all,
    // and the server's accepts fail once its descriptors are used up.
    let held: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(server.tcp()).expect("connect"))
        .collect();
    let started = Instant::now();
    // A fixed wait, to show what does not happen over it: more than a line a second.
    std::thread::sleep(Duration::from_millis(2500));
    let (status, log) = server.signal_and_log("TERM");
    let seconds = started.elapsed().as_secs() + 1;
    drop(held);
    assert_eq!(status.code(), Some(0), "{log}");
    let lines = log
        .lines()
        .filter(|l| l.contains("accept failed: "))
        .count() as u64;
    assert!(lines >= 1, "{log}");
    assert!(lines <= seconds, "{lines} lines in {seconds}s:\n{log}");
    assert!(
        log.contains("more like it since the last such line"),
        "the ones held back are counted: {log}"
    );
}

#[test]
fn a_number_of_workers_past_the_bound_is_refused_up_front() {
    for workers in ["257", "3000", "100000"] {
        upcase()
            .args(["server", "--port", "0", "--workers", workers])
            .assert()
            .code(2)
            .stderr(format!(
                "upcase: --workers {workers}: at most 256; one per core is usually best\n"
            ));
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("upcase.toml");
    std::fs::write(&config, "workers = 5000\n").expect("write");
    upcase()
        .args(["server", "--port", "0", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "bad value for `workers`: at most 256",
        ));
}

#[test]
fn workers_that_need_more_descriptors_than_allowed_say_which_limit_to_raise() {
    let output = Command::new("prlimit")
        .arg("--nofile=30:30")
        .arg(binary())
        .args([
            "server",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--workers",
            "20",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "too many open files; raise the open file limit (ulimit -n) or use fewer --workers"
        ),
        "{stderr}"
    );
}

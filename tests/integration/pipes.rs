//! Closed pipes and full disks on stdout and stderr: no path of the binary panics or aborts on
//! them. A log line that cannot be written is dropped and the server serves on; ready lines that
//! cannot be written end the server with status 1; the client and the load generator exit 0
//! when their stdout's reader has gone away.

use std::fs::File;
use std::net::UdpSocket;
use std::process::{Command, Stdio};

use crate::util::{
    binary, spawn_server, start_server, tcp_exchange, udp_exchange, wait_with_patience,
};

/// `/dev/full`, where every write fails with "no space left on device".
fn full() -> Stdio {
    Stdio::from(
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// A command whose stdout is a pipe that nobody reads any more.
fn with_stdout_closed(command: &mut Command) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    drop(child.stdout.take());
    let status = wait_with_patience(&mut child);
    let mut stderr = Vec::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_end(&mut pipe, &mut stderr);
    }
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

#[test]
fn a_server_whose_log_reader_went_away_serves_on() {
    let mut command = Command::new(binary());
    command
        .args(["server", "-v", "--port", "0", "--bind", "127.0.0.1"])
        .args(["--deny", "127.0.0.2"])
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped());
    let mut server = spawn_server(&mut command, &["udp", "tcp"]);
    drop(server.child.stderr.take());
    // Each of these is logged: a refusal, then a datagram and a connection served.
    let denied = UdpSocket::bind("127.0.0.2:0").expect("bind");
    denied.send_to(b"denied", server.udp()).expect("send");
    assert_eq!(
        udp_exchange(server.udp(), "127.0.0.1:0", b"still"),
        b"STILL"
    );
    assert_eq!(tcp_exchange(server.tcp(), b"up"), b"UP");
    let status = server.signal("TERM");
    assert_eq!(status.code(), Some(0), "exited normally: {status:?}");
}

#[test]
fn a_server_whose_log_goes_to_a_full_disk_serves_on() {
    let mut command = Command::new(binary());
    command
        .args(["server", "-vv", "--port", "0", "--bind", "127.0.0.1"])
        .env("RUST_LOG", "trace")
        .stderr(full());
    let server = spawn_server(&mut command, &["udp", "tcp"]);
    assert_eq!(udp_exchange(server.udp(), "127.0.0.1:0", b"full"), b"FULL");
    assert_eq!(tcp_exchange(server.tcp(), b"disk"), b"DISK");
    let status = server.signal("TERM");
    assert_eq!(status.code(), Some(0), "exited normally: {status:?}");
}

#[test]
fn a_server_that_cannot_print_its_ready_lines_exits_1_saying_so() {
    let output = Command::new(binary())
        .args(["server", "--port", "0", "--bind", "127.0.0.1"])
        .stdout(full())
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot print the ready lines on stdout: no space left on device"),
        "{stderr}"
    );
    let closed = with_stdout_closed(Command::new(binary()).args([
        "server",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ]));
    assert_eq!(closed.status.code(), Some(1), "{closed:?}");
    assert!(
        String::from_utf8_lossy(&closed.stderr).contains("cannot print the ready lines"),
        "{closed:?}"
    );
}

/// Runs `upcase ARGS` twice: with stdout a pipe nobody reads any more, which must exit 0, and
/// with stdout `/dev/full`, which must exit 1 with one line holding `full_says`, not a panic.
fn closed_exits_0_and_full_exits_1(args: &[&str], full_says: &str) {
    let closed = with_stdout_closed(Command::new(binary()).args(args));
    assert_eq!(closed.status.code(), Some(0), "{args:?}: {closed:?}");
    let output = Command::new(binary())
        .args(args)
        .stdout(full())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(full_says), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_client_exits_0_when_its_reader_went_away_and_1_on_a_full_disk() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let port = server.port().to_string();
    let target = ["client", "--host", "127.0.0.1", "--port", &port];
    for extra in [&["hello"][..], &["--udp", "hello"]] {
        closed_exits_0_and_full_exits_1(&[&target[..], extra].concat(), "no space left on device");
    }
    let closed = with_stdout_closed(Command::new(binary()).args(target).args(["--json", "hi"]));
    assert_eq!(closed.status.code(), Some(0), "{closed:?}");
}

#[test]
fn the_load_generator_exits_0_when_its_reader_went_away_and_1_on_a_full_disk() {
    let server = start_server(&["--bind", "127.0.0.1", "--tcp"]);
    let port = server.port().to_string();
    let run = [
        "bench",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--requests",
        "20",
    ];
    for extra in [&[][..], &["--json"]] {
        closed_exits_0_and_full_exits_1(
            &[&run[..], extra].concat(),
            "cannot write the report: no space left on device",
        );
    }
}

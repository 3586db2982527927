//! `upcase client`'s pipe mode at its ends: a standard input that cannot be read, and
//! descriptors handed over non-blocking, which the client waits on rather than spins or fails.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

use crate::util::{binary, start_server};

#[test]
fn a_standard_input_that_cannot_be_read_is_said_as_such() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    let port = server.port().to_string();
    for transport in ["--tcp", "--udp"] {
        // A directory opens, and every read of it fails.
        let directory = std::fs::File::open("/").expect("the root directory");
        Command::new(binary())
            .args(["client", transport, "--host", "127.0.0.1", "--port", &port])
            .stdin(directory)
            .output()
            .expect("the client runs")
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with(
                "upcase: cannot read standard input: ",
            ));
    }
}

#[test]
fn descriptors_handed_over_non_blocking_are_waited_on() {
    let server = start_server(&["--bind", "127.0.0.1"]);
    for transport in ["--tcp", "--udp"] {
        // Python sets O_NONBLOCK on the pipes the client then inherits, as a parent that
        // shares its own descriptors may have left them.
        let nonblocking = "import fcntl, os, sys\n\
            for fd in (0, 1):\n\
            \x20   fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)\n\
            os.execv(sys.argv[1], sys.argv[1:])";
        let mut client = Command::new("python3")
            .args(["-c", nonblocking])
            .arg(binary())
            .args(["client", transport, "--host", "127.0.0.1"])
            .args(["--port", &server.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut stdin = client.stdin.take().expect("stdin");
        stdin.write_all(b"first line\n").expect("write");
        // A pause with nothing to read: the client waits, where a read would say EAGAIN.
        std::thread::sleep(Duration::from_millis(300));
        stdin.write_all(b"second line\n").expect("write");
        drop(stdin);
        let output = client.wait_with_output().expect("the client ends");
        assert_eq!(
            (output.status.code(), output.stdout.as_slice()),
            (Some(0), &b"FIRST LINE\nSECOND LINE\n"[..]),
            "{transport}"
        );
    }
}

//! Sockets handed to `upcase server` instead of bound by it: systemd's socket activation and
//! inetd's socket on standard input.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use predicates::prelude::*;

use crate::util::{
    PATIENCE, binary, send_signal, spawn_server, tcp_exchange, udp_exchange, upcase,
    wait_with_patience,
};

fn activate(kind: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/socket_activate.py"))
        .arg(kind)
        .arg(binary())
        .arg("server");
    command
}

#[test]
fn systemd_sockets_are_served_as_given() {
    // --port and --bind are ignored: the sockets are systemd's.
    let mut command = activate("both");
    command.args(["--port", "1", "--workers", "3"]);
    let server = spawn_server(&mut command, &["udp", "tcp"]);
    assert_eq!(server.udp().port(), server.tcp().port());

    assert_eq!(
        udp_exchange(server.udp(), "127.0.0.1:0", b"over udp"),
        b"OVER UDP"
    );
    assert_eq!(tcp_exchange(server.tcp(), b"over tcp"), b"OVER TCP");
    assert!(server.signal("TERM").success());

    let server = spawn_server(&mut activate("udp"), &["udp"]);
    assert!(server.signal("TERM").success());
}

#[test]
fn a_systemd_socket_of_another_kind_is_refused() {
    let output = activate("file").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "upcase: socket 3 of LISTEN_FDS is neither a TCP nor a UDP socket; give upcase ListenStream= and ListenDatagram= sockets\n"
    );
}

/// A client's connection, served by `upcase server --inetd ARGS` as inetd's `nowait` serves it:
/// the connection is the server's standard input, output and error.
fn inetd_nowait(args: &[&str]) -> (TcpStream, Child) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
    let (accepted, _) = listener.accept().expect("accept");
    let socket = OwnedFd::from(accepted);
    let server = Command::new(binary())
        .args(["server", "--inetd"])
        .args(args)
        .stdin(Stdio::from(socket.try_clone().expect("dup")))
        .stdout(Stdio::from(socket.try_clone().expect("dup")))
        .stderr(Stdio::from(socket))
        .spawn()
        .expect("start the server");
    (client, server)
}

/// A bound UDP socket's address, and `upcase server --inetd ARGS` serving it on standard
/// input as inetd's `wait` does, logging at info level to a pipe.
fn inetd_wait(args: &[&str]) -> (SocketAddr, Child) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("address");
    let server = Command::new(binary())
        .args(["server", "--inetd"])
        .args(args)
        .stdin(Stdio::from(OwnedFd::from(socket)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "info")
        .spawn()
        .expect("start the server");
    (addr, server)
}

/// What a server started by [`inetd_wait`] logged, once it has exited.
fn log_of(server: &mut Child) -> String {
    let mut log = String::new();
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    log
}

#[test]
fn inetd_nowait_serves_the_connection_on_stdin_and_exits() {
    let (mut client, mut server) = inetd_nowait(&[]);
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    client.write_all("straße".as_bytes()).expect("send");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = String::new();
    client.read_to_string(&mut reply).expect("reply");
    assert_eq!(reply, "STRASSE", "nothing but the reply, no log lines");
    assert!(wait_with_patience(&mut server).success());
}

#[test]
fn inetd_nowait_with_proxy_protocol_reads_the_header_not_as_the_request() {
    let (mut client, mut server) = inetd_nowait(&["--proxy-protocol"]);
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    client
        .write_all(b"PROXY TCP4 198.51.100.7 127.0.0.1 4444 12000\r\nhello")
        .expect("send");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = String::new();
    client.read_to_string(&mut reply).expect("reply");
    assert_eq!(reply, "HELLO", "the header is never request bytes");
    assert!(wait_with_patience(&mut server).success());

    let (mut client, mut server) = inetd_nowait(&["--proxy-protocol"]);
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    client.write_all(b"no header here").expect("send");
    client.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = String::new();
    let _ = client.read_to_string(&mut reply);
    assert!(!reply.contains("NO HEADER HERE"), "unanswered: {reply:?}");
    assert!(wait_with_patience(&mut server).success());
}

#[test]
fn inetd_nowait_answers_and_closes_its_connection_on_sigterm() {
    let (mut client, mut server) = inetd_nowait(&["--drain-timeout", "200ms"]);
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    client.write_all(b"still open").expect("send");
    let mut reply = [0; 10];
    client.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"STILL OPEN");
    send_signal(server.id(), "TERM");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .expect("closed cleanly after the drain timeout");
    assert_eq!(rest, b"", "nothing but the replies, no log lines");
    assert!(wait_with_patience(&mut server).success(), "exits 0");
}

#[test]
fn inetd_wait_serves_datagrams_until_idle() {
    let (addr, mut server) = inetd_wait(&["--idle-timeout", "300ms"]);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    for message in ["one", "two"] {
        client.send_to(message.as_bytes(), addr).expect("send");
        let mut reply = [0; 16];
        let n = client.recv(&mut reply).expect("reply");
        assert_eq!(&reply[..n], message.to_uppercase().as_bytes());
    }
    assert!(wait_with_patience(&mut server).success(), "exits once idle");
    let log = log_of(&mut server);
    assert!(log.contains("leaving the port to inetd"), "{log}");
}

#[test]
fn inetd_wait_with_no_idle_timeout_serves_until_sigterm() {
    let (addr, mut server) = inetd_wait(&["--idle-timeout", "0"]);
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // A fixed wait, to show that nothing happens: quiet for a while, the server stays.
    std::thread::sleep(Duration::from_millis(300));
    client.send_to(b"late", addr).expect("send");
    let mut reply = [0; 16];
    let n = client
        .recv(&mut reply)
        .expect("still served after a quiet spell");
    assert_eq!(&reply[..n], b"LATE");
    send_signal(server.id(), "TERM");
    assert!(
        wait_with_patience(&mut server).success(),
        "exits on SIGTERM"
    );
    let log = log_of(&mut server);
    assert!(log.contains("terminated; shutting down"), "{log}");
    assert!(!log.contains("leaving the port to inetd"), "{log}");
}

#[test]
fn inetd_without_a_socket_says_how_to_run_it() {
    upcase()
        .args(["server", "--inetd"])
        .write_stdin("not a socket")
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::eq(
            "upcase: --inetd needs a socket on standard input, as inetd gives; run it from inetd, or without --inetd\n",
        ));
}

//! Signals as operators of nginx or HAProxy expect them, each with a connection in progress:
//! SIGHUP drops nothing and reloads the config file's access lists; a second SIGTERM or Ctrl-C
//! during the drain ends it at once, with status 1.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::util::{
    PATIENCE, read_until, send_signal, spawn_server, start_server_watched, wait_with_patience,
};

/// A connection that has sent `first` and is waiting to send more.
fn in_progress(server: SocketAddr, first: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(first).expect("send");
    let mut echo = vec![0; first.len()];
    stream.read_exact(&mut echo).expect("its reply so far");
    stream
}

/// Sends `rest`, half-closes, and returns the rest of the reply.
fn finish(mut stream: TcpStream, rest: &[u8]) -> Vec<u8> {
    stream.write_all(rest).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reply");
    reply
}

/// Whether a datagram from `from` gets an answer within a moment.
fn answered_from(server: SocketAddr, from: &str) -> bool {
    let socket = UdpSocket::bind(from).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    socket.send_to(b"knock", server).expect("send");
    let mut buf = [0; 8];
    socket.recv(&mut buf).is_ok()
}

#[test]
fn sighup_drops_no_connection_and_reloads_the_access_lists() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("upcase.toml");
    std::fs::write(&config, "bind = \"127.0.0.1\"\nworkers = 1\n").expect("write");
    let path = config.to_str().expect("utf-8 path");
    let (server, mut log) = start_server_watched(&["--config", path], "info");
    assert!(answered_from(server.udp(), "127.0.0.2:0"), "served before");
    let open = in_progress(server.tcp(), b"before ");

    let changed = "bind = \"127.0.0.1\"\nworkers = 1\ndeny = [\"127.0.0.2\"]\nmax-line = 100\n";
    std::fs::write(&config, changed).expect("rewrite");
    send_signal(server.child.id(), "HUP");
    let line = log.wait_for("SIGHUP: reloaded ");
    assert!(line.contains("deny 127.0.0.2/32"), "{line}");
    assert!(
        line.contains("a restart is needed to change max-line"),
        "{line}"
    );
    assert!(
        !answered_from(server.udp(), "127.0.0.2:0"),
        "the new deny list applies"
    );
    assert!(
        answered_from(server.udp(), "127.0.0.1:0"),
        "others still served"
    );
    assert_eq!(
        finish(open, b"and after"),
        b"AND AFTER",
        "the open connection went on"
    );

    // A file that is wrong now leaves everything as it was.
    std::fs::write(&config, "deny = [\"nonsense\"]\n").expect("rewrite");
    send_signal(server.child.id(), "HUP");
    log.wait_for("serving on with the settings as they were");
    assert!(!answered_from(server.udp(), "127.0.0.2:0"), "still denied");
    assert!(answered_from(server.udp(), "127.0.0.1:0"));
    assert_eq!(server.signal("TERM").code(), Some(0));
}

#[test]
fn sighup_without_a_config_file_drops_nothing() {
    let (server, mut log) = start_server_watched(&["--bind", "127.0.0.1", "--tcp"], "info");
    let open = in_progress(server.tcp(), b"one ");
    send_signal(server.child.id(), "HUP");
    log.wait_for("SIGHUP: no --config file to reload; serving on as before");
    assert_eq!(finish(open, b"two"), b"TWO");
    assert_eq!(server.signal("TERM").code(), Some(0));
}

#[test]
fn a_second_signal_during_the_drain_ends_it_at_once_with_status_1() {
    for (first, second) in [("TERM", "TERM"), ("INT", "INT"), ("TERM", "INT")] {
        let mut command = std::process::Command::new(crate::util::binary());
        command
            .args(["server", "--tcp", "--port", "0", "--bind", "127.0.0.1"])
            .args(["--drain-timeout", "1h"])
            .env("RUST_LOG", "info")
            .stderr(std::process::Stdio::piped());
        let mut server = spawn_server(&mut command, &["tcp"]);
        let mut stderr = server.child.stderr.take().expect("stderr");
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        let mut open = in_progress(server.tcp(), b"half ");
        send_signal(server.child.id(), first);
        // The drain has begun once the port is closed.
        let closed = read_until(
            || TcpStream::connect(server.tcp()).is_err(),
            |&closed| closed,
        );
        assert!(closed, "the port closes at the first signal");
        send_signal(server.child.id(), second);
        // Without the second signal this would wait an hour, past the test's patience.
        let status = wait_with_patience(&mut server.child);
        let log = log.join().expect("log");
        assert_eq!(status.code(), Some(1), "{first} then {second}: {log}");
        assert!(
            log.contains("asked again to stop: dropping 1 open connections"),
            "{log}"
        );
        assert!(log.contains("stopped: "), "the summary still comes: {log}");
        let mut rest = Vec::new();
        let ended = open.read_to_end(&mut rest);
        assert!(
            ended.is_err() || rest.is_empty(),
            "the connection was dropped: {ended:?}"
        );
    }
}

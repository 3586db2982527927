//! `upcase server --proxy-protocol`: the client address comes from a balancer's PROXY header.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

use crate::util::{PATIENCE, start_server_logged};

/// Sends `bytes` in pieces of `piece` bytes, half-closes, and returns all that comes back.
fn exchange(server: SocketAddr, bytes: &[u8], piece: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    for part in bytes.chunks(piece) {
        // The server may close at once on a bad header: later writes may then fail.
        if stream.write_all(part).is_err() {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    reply
}

fn v2(client: [u8; 4], port: u16, server_port: u16) -> Vec<u8> {
    let mut header = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    header.extend([0x21, 0x11, 0, 12]);
    header.extend(client);
    header.extend([127, 0, 0, 1]);
    header.extend(port.to_be_bytes());
    header.extend(server_port.to_be_bytes());
    header
}

#[test]
fn the_header_s_client_is_served_logged_and_filtered() {
    let server = start_server_logged(
        &[
            "--bind",
            "127.0.0.1",
            "--tcp",
            "--proxy-protocol",
            "--deny",
            "192.0.2.0/24",
        ],
        "debug",
    );
    let port = server.tcp().port();

    let v1 = format!("PROXY TCP4 198.51.100.7 127.0.0.1 40000 {port}\r\nhello");
    assert_eq!(exchange(server.tcp(), v1.as_bytes(), 1 << 16), b"HELLO");
    // Split anywhere, even a byte at a time, the header is still read whole.
    let mut split = v2([198, 51, 100, 8], 40001, port);
    split.extend("straße".as_bytes());
    assert_eq!(exchange(server.tcp(), &split, 1), "STRASSE".as_bytes());

    let denied = format!("PROXY TCP4 192.0.2.9 127.0.0.1 40002 {port}\r\nhello");
    assert_eq!(exchange(server.tcp(), denied.as_bytes(), 1 << 16), b"");
    assert_eq!(
        exchange(server.tcp(), b"hello without a header\r\n", 1 << 16),
        b""
    );

    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    for line in [
        "connection from 198.51.100.7:40000: served, 5 bytes in, 5 out",
        "connection from 198.51.100.8:40001: served, 7 bytes in, 7 out",
        "refused connection from 192.0.2.9:40002: not allowed by --allow/--deny",
        "closed the connection: no valid PROXY protocol header from 127.0.0.1:",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
    assert!(log.contains("bad PROXY headers 1"), "{log}");
}

#[test]
fn per_source_limits_count_the_header_s_client() {
    let server = start_server_logged(
        &[
            "--bind",
            "127.0.0.1",
            "--tcp",
            "--proxy-protocol",
            "--max-connections-per-source",
            "1",
        ],
        "warn",
    );
    let port = server.tcp().port();
    let header =
        |client: &str, from: u16| format!("PROXY TCP4 {client} 127.0.0.1 {from} {port}\r\n");
    // One connection open for 198.51.100.7, through the balancer's one address.
    let mut first = TcpStream::connect(server.tcp()).expect("connect");
    first
        .write_all(header("198.51.100.7", 40000).as_bytes())
        .expect("send");
    first.write_all(b"first").expect("send");
    first.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut reply = [0; 5];
    first.read_exact(&mut reply).expect("the first is served");
    assert_eq!(&reply, b"FIRST");

    // A second for the same client is over its limit; another client is not.
    let second = format!("{}second", header("198.51.100.7", 40001));
    assert_eq!(exchange(server.tcp(), second.as_bytes(), 1 << 16), b"");
    let other = format!("{}other", header("198.51.100.8", 40002));
    assert_eq!(exchange(server.tcp(), other.as_bytes(), 1 << 16), b"OTHER");
    drop(first);

    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    assert!(
        log.contains(
            "refused connection from 198.51.100.7:40001: its source has 1 connections open already"
        ),
        "{log}"
    );
}

#[test]
fn with_an_idle_timeout_of_zero_a_late_header_is_still_read() {
    let server = start_server_logged(
        &[
            "--bind",
            "127.0.0.1",
            "--tcp",
            "--proxy-protocol",
            "--idle-timeout",
            "0",
        ],
        "info",
    );
    let port = server.tcp().port();
    let mut stream = TcpStream::connect(server.tcp()).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // A fixed wait, to show that nothing happens: with no idle timeout, a slow header is
    // waited for.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let request = format!("PROXY TCP4 198.51.100.7 127.0.0.1 40000 {port}\r\nlate");
    stream.write_all(request.as_bytes()).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("a clean close");
    assert_eq!(reply, b"LATE");

    let (status, log) = server.signal_and_log("TERM");
    assert!(status.success());
    assert!(log.contains("; idle-timeout off;"), "{log}");
}

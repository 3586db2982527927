//! `upcase server` under abuse and at shutdown, as a process: what it logs, what it holds, and
//! what every client gets.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::prelude::*;

use crate::util::{
    PATIENCE, send_signal, start_server, start_server_logged, start_server_watched, upcase,
    wait_with_patience,
};

#[test]
fn refusals_are_logged_at_most_once_a_second() {
    let (mut server, mut watch) = start_server_watched(
        &["--udp", "--bind", "127.0.0.1", "--deny", "127.0.0.0/8"],
        "warn",
    );
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..500 {
        socket.send_to(b"flood", server.udp()).expect("send");
    }
    // The flood has reached the server once it refuses the first of it.
    watch.wait_for("refused datagram from 127.0.0.1:");
    let started = Instant::now();
    send_signal(server.child.id(), "TERM");
    let status = wait_with_patience(&mut server.child);
    let log = watch.rest();
    let seconds = started.elapsed().as_secs() + 2;
    assert_eq!(status.code(), Some(0));
    let refusals = log
        .lines()
        .filter(|l| l.contains("refused datagram from 127.0.0.1:"))
        .count();
    assert!(refusals >= 1, "{log}");
    assert!(
        refusals as u64 <= seconds,
        "{refusals} lines for one flood:\n{log}"
    );
    assert!(log.contains(": not allowed by --allow/--deny"), "{log}");
}

#[test]
fn the_summary_at_exit_counts_every_refusal() {
    let server = start_server_logged(
        &["--udp", "--bind", "127.0.0.1", "--deny", "127.0.0.1"],
        "info",
    );
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for _ in 0..300 {
        socket.send_to(b"flood", server.udp()).expect("send");
    }
    // Sent again until answered, as any UDP client must: a flood can fill the socket's buffer.
    let allowed = UdpSocket::bind("127.0.0.2:0").expect("bind");
    allowed
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0; 8];
    let answered = (0..20).any(|_| {
        allowed.send_to(b"ok", server.udp()).expect("send");
        allowed.recv(&mut buf).is_ok()
    });
    assert!(answered, "the allowed source was served");
    let (_, log) = server.signal_and_log("TERM");
    let summary = log
        .lines()
        .find(|l| l.contains("stopped: "))
        .expect("a summary line");
    let count_after = |label: &str| -> u64 {
        let at = summary
            .find(label)
            .unwrap_or_else(|| panic!("no {label:?} in {summary}"));
        let digits: String = summary[at + label.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().expect("a count")
    };
    assert!(count_after("served ") >= 1, "{summary}");
    // Every flood datagram the kernel delivered was refused and counted.
    assert!((1..=300).contains(&count_after("denied ")), "{summary}");
}

#[test]
fn new_flags_reject_bad_values_in_one_line() {
    for (args, expected) in [
        (
            &["server", "--allow", "10.0.0.0/33"][..],
            "upcase: invalid value '10.0.0.0/33' for '--allow <CIDR>': `10.0.0.0/33` is not a network: write an address or CIDR, like 10.0.0.0/8 or ::1; see 'upcase server --help'\n",
        ),
        (
            &["server", "--max-line", "0"],
            "upcase: invalid value '0' for '--max-line <BYTES>': 0 is not in 1..=4294967295; see 'upcase server --help'\n",
        ),
        (
            &["server", "--idle-timeout", "never"],
            "upcase: invalid value 'never' for '--idle-timeout <DURATION>': expected number at 0; see 'upcase server --help'\n",
        ),
    ] {
        upcase()
            .args(args)
            .assert()
            .code(2)
            .stdout("")
            .stderr(expected);
    }
    upcase()
        .args(["server", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--max-datagrams-per-source <N>"))
        .stdout(predicate::str::contains("--deny <CIDR>"));
}

#[test]
fn ten_thousand_idle_connections_cost_little_and_block_no_one() {
    const IDLE: usize = 10_000;
    // The test holds one end of each connection; the server, in its own process, the other.
    rlimit::increase_nofile_limit(IDLE as u64 + 1000).expect("raise the open file limit");
    let server = start_server(&[
        "--tcp",
        "--bind",
        "127.0.0.1",
        "--max-connections",
        "12000",
        "--max-connections-per-source",
        "0",
    ]);
    let before = server.rss_kib();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idle.push(TcpStream::connect(server.tcp()).expect("an idle connection"));
    }
    // Every one of them accepted and waiting: a new client is still served.
    let port = server.port().to_string();
    upcase()
        .args([
            "client",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "still",
            "served",
        ])
        .assert()
        .success()
        .stdout("STILL SERVED\n");
    // The connections were accepted before the client's, which the kernel queued after them.
    let per_connection = (server.rss_kib().saturating_sub(before)) as f64 / IDLE as f64;
    eprintln!("server memory per idle connection: {per_connection:.2} KiB");
    assert!(
        per_connection < 4.0,
        "{per_connection:.2} KiB per idle connection"
    );
    // And each of them is still served.
    for stream in idle.iter_mut().step_by(1000) {
        stream.write_all(b"wake").expect("send");
        let mut reply = [0; 4];
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        stream.read_exact(&mut reply).expect("reply");
        assert_eq!(&reply, b"WAKE");
    }
}

/// Streams `chunks` chunks of 1 KiB, `pause` apart, then half-closes; returns what it sent and
/// what came back before the server closed. Says on `under_way` once the first reply byte is
/// back: the server is serving the stream.
fn stream_through(
    addr: std::net::SocketAddr,
    seed: u8,
    chunks: usize,
    pause: Duration,
    under_way: mpsc::Sender<()>,
) -> (Vec<u8>, Vec<u8>) {
    let stream = TcpStream::connect(addr).expect("connect");
    let mut reader = stream.try_clone().expect("clone");
    let received = std::thread::spawn(move || {
        let mut received = vec![0];
        reader.set_read_timeout(Some(PATIENCE)).expect("timeout");
        reader.read_exact(&mut received).expect("a first reply");
        let _ = under_way.send(());
        reader
            .read_to_end(&mut received)
            .expect("a clean close, not a reset");
        received
    });
    let mut writer = stream;
    let mut sent = Vec::new();
    for i in 0..chunks {
        let chunk: Vec<u8> = (0..1024)
            .map(|j| b'a' + ((i + j + seed as usize) % 26) as u8)
            .collect();
        if writer.write_all(&chunk).is_err() {
            break; // The server closed after its drain timeout.
        }
        sent.extend_from_slice(&chunk);
        std::thread::sleep(pause);
    }
    let _ = writer.shutdown(std::net::Shutdown::Write);
    (sent, received.join().expect("reader"))
}

/// Waits until `count` streams have said they are under way.
fn all_under_way(streaming: &mpsc::Receiver<()>, count: usize) {
    for _ in 0..count {
        streaming
            .recv_timeout(PATIENCE)
            .expect("every stream gets its first reply");
    }
}

#[test]
fn sigterm_mid_stream_delivers_everything_each_connection_sent() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1", "--drain-timeout", "30s"]);
    let addr = server.tcp();
    let (under_way, streaming) = mpsc::channel();
    let clients: Vec<_> = (0..20)
        .map(|seed| {
            let under_way = under_way.clone();
            let pause = Duration::from_millis(5);
            std::thread::spawn(move || stream_through(addr, seed, 100, pause, under_way))
        })
        .collect();
    all_under_way(&streaming, 20);
    let pid = server.child.id();
    send_signal(pid, "TERM");
    for client in clients {
        let (sent, received) = client.join().expect("client");
        assert_eq!(sent.len(), 100 * 1024, "the client could send everything");
        assert!(received == sent.to_ascii_uppercase(), "every byte answered");
    }
    assert_eq!(server.signal("TERM").code(), Some(0));
}

#[test]
fn sigterm_mid_stream_closes_cleanly_once_the_drain_timeout_runs_out() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1", "--drain-timeout", "500ms"]);
    let addr = server.tcp();
    let (under_way, streaming) = mpsc::channel();
    let clients: Vec<_> = (0..20)
        .map(|seed| {
            let under_way = under_way.clone();
            std::thread::spawn(move || {
                let pause = Duration::from_millis(5);
                let (sent, received) = stream_through(addr, seed, 1000, pause, under_way);
                (sent, received, Instant::now())
            })
        })
        .collect();
    all_under_way(&streaming, 20);
    let signalled = Instant::now();
    send_signal(server.child.id(), "TERM");
    for client in clients {
        let (sent, received, ended) = client.join().expect("client");
        assert!(
            received.len() < sent.len() || sent.len() < 1000 * 1024,
            "cut before the end"
        );
        assert!(
            received == sent[..received.len()].to_ascii_uppercase(),
            "what came back is the answer to what was sent"
        );
        assert!(
            ended.duration_since(signalled) >= Duration::from_millis(500),
            "not cut before the drain timeout"
        );
    }
    let mut server = server;
    assert_eq!(
        crate::util::wait_with_patience(&mut server.child).code(),
        Some(0)
    );
}

//! `upcase bench` against peers it must work with: an RFC 862 echo written here, socat, and
//! xinetd's internal echo, over TCP and UDP, with their dropped datagrams counted lost.

use std::net::{TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::bench_json;
use crate::util::{Killed, read_until};

/// An RFC 862 echo over UDP, written here: every datagram goes back as it came.
fn udp_echo() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], from);
        }
    });
    port
}

#[test]
fn a_lost_datagram_frees_its_slot_for_the_next_request() {
    // Answers every other datagram, upper-cased.
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0; 65_536];
        let mut answer = true;
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            if answer {
                let _ = socket.send_to(&buf[..n].to_ascii_uppercase(), from);
            }
            answer = !answer;
        }
    });
    let (report, _) = bench_json(port, &["--udp", "--requests", "10", "--timeout", "100ms"]);
    assert_eq!(
        (report["replies"].as_u64(), report["lost"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(report["wrong"], 0, "{report}");
}

#[test]
#[ignore = "needs socat; `bash scripts/test.sh` installs it and runs it"]
fn an_rfc_862_echo_and_socat_pass() {
    let (report_udp, _) = bench_json(
        udp_echo(),
        &["--udp", "--window", "8", "--duration", "500ms"],
    );
    assert!(report_udp["replies"].as_u64() > Some(0));
    assert_eq!(
        (report_udp["wrong"].as_u64(), report_udp["lost"].as_u64()),
        (Some(0), Some(0))
    );

    let (_socat, port) = socat_echo();
    let (report, _) = bench_json(
        port,
        &["--conns", "4", "--window", "4", "--duration", "500ms"],
    );
    assert!(report["replies"].as_u64() > Some(0));
    assert_eq!(
        (report["wrong"].as_u64(), report["lost"].as_u64()),
        (Some(0), Some(0))
    );
}

/// socat echoing TCP on a free port. A port found free may be taken by another test before
/// socat binds it; socat then exits, and another port is tried.
fn socat_echo() -> (Killed, u16) {
    for _ in 0..5 {
        let port = crate::util::closed_port();
        let mut socat = Killed(
            Command::new("socat")
                .args([
                    &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
                    "PIPE",
                ])
                .stderr(Stdio::null())
                .spawn()
                .expect("socat is installed by scripts/test.sh"),
        );
        let (up, _) = read_until(
            || {
                let exited = matches!(socat.0.try_wait(), Ok(Some(_)));
                (TcpStream::connect(("127.0.0.1", port)).is_ok(), exited)
            },
            |&(up, exited)| up || exited,
        );
        if up {
            return (socat, port);
        }
    }
    panic!("socat could not bind a free port in five tries");
}

fn wait_for_tcp(port: u16, child: &mut Child) {
    let up = read_until(|| TcpStream::connect(("127.0.0.1", port)).is_ok(), |up| *up);
    assert!(up, "nothing listens on {port}: {:?}", child.try_wait());
}

/// xinetd's own echo service (Debian's `xinetd`), on TCP and UDP at one port, from a
/// configuration written here; its connection-rate limit lifted, as a load test needs. A port
/// found free may be taken by another test before xinetd binds it: xinetd then says so in its
/// log and serves fewer services, and another port is tried.
fn xinetd_echo(dir: &Path) -> (Killed, u16) {
    for _ in 0..5 {
        let port = crate::util::closed_port();
        let log = dir.join(format!("xinetd-{port}.log"));
        let mut child = Killed(spawn_xinetd(dir, port, &log));
        let said = read_until(
            || std::fs::read_to_string(&log).unwrap_or_default(),
            |log| log.contains("Started working:"),
        );
        if said.contains("Started working: 2 available services") {
            wait_for_tcp(port, &mut child.0);
            return (child, port);
        }
        assert!(
            said.contains("Started working:"),
            "xinetd did not start: {said}"
        );
    }
    panic!("xinetd could not bind a free port in five tries");
}

fn spawn_xinetd(dir: &Path, port: u16, log: &Path) -> Child {
    let service = |kind: &str, socket: &str, protocol: &str, wait: &str| {
        format!(
            "service echo\n{{\n    type = INTERNAL UNLISTED\n    id = echo-{kind}\n    socket_type = {socket}\n    protocol = {protocol}\n    wait = {wait}\n    user = root\n    bind = 127.0.0.1\n    port = {port}\n}}\n"
        )
    };
    let config = format!(
        "defaults\n{{\n    cps = 1000000 1\n    instances = UNLIMITED\n    per_source = UNLIMITED\n}}\n{}{}",
        service("stream", "stream", "tcp", "no"),
        service("dgram", "dgram", "udp", "yes"),
    );
    let path = dir.join(format!("xinetd-{port}.conf"));
    std::fs::write(&path, config).expect("config");
    let xinetd = if Path::new("/usr/sbin/xinetd").exists() {
        "/usr/sbin/xinetd"
    } else {
        "xinetd"
    };
    Command::new(xinetd)
        .args(["-dontfork", "-filelog"])
        .arg(log)
        .arg("-f")
        .arg(&path)
        .arg("-pidfile")
        .arg(dir.join(format!("xinetd-{port}.pid")))
        .stderr(Stdio::null())
        .spawn()
        .expect("xinetd is installed by scripts/test.sh")
}

#[test]
#[ignore = "needs xinetd; `bash scripts/test.sh` installs it and runs it"]
fn xinetds_internal_echo_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_xinetd, port) = xinetd_echo(dir.path());
    for args in [
        &["--tcp", "--conns", "4", "--window", "4"][..],
        &["--reconnect"],
    ] {
        let (report, _) = bench_json(port, &[args, &["--duration", "500ms"]].concat());
        assert!(report["replies"].as_u64() > Some(0), "{args:?}: {report}");
        assert_eq!(
            (report["wrong"].as_u64(), report["lost"].as_u64()),
            (Some(0), Some(0))
        );
    }
    // Its UDP echo throws away the datagrams that come while it answers one, so it is
    // measured at a pace it can take: each answered, none wrong.
    let (report, _) = bench_json(port, &["--udp", "--rate", "50", "--duration", "1s"]);
    assert!(report["replies"].as_u64() >= Some(40), "{report}");
    assert_eq!(
        (report["wrong"].as_u64(), report["lost"].as_u64()),
        (Some(0), Some(0))
    );
    // Faster, the ones it threw away are counted lost, not taken for answers.
    let (report, _) = bench_json(port, &["--udp", "--requests", "20", "--timeout", "200ms"]);
    let (replies, lost) = (report["replies"].as_u64(), report["lost"].as_u64());
    assert_eq!(replies.zip(lost).map(|(r, l)| r + l), Some(20), "{report}");
    assert_eq!(report["wrong"], 0, "{report}");
}

//! `upcase client` against small hostile servers written here: one whose replies carry
//! terminal control sequences, one that trickles a byte every 0.3 s for ever, one that answers
//! every probe with an SSH banner. The terminal is a pty.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{PATIENCE, binary, textbook, thread_server, upcase};

/// A reply that would steer a terminal: an OSC 52 clipboard write, a screen clear, a window
/// title, a bell, and a raw C1 CSI.
const STEERING: &[u8] = b"\x1b]52;c;aGVsbG8=\x07\x1b[2J\x1b]0;pwned\x07\x07\x9b31mHELLO\n";

/// Answers each request, to its end, with [`STEERING`].
fn steering(mut stream: TcpStream) {
    let mut request = Vec::new();
    let _ = stream.read_to_end(&mut request);
    let _ = stream.write_all(STEERING);
}

/// Answers each datagram with [`STEERING`]; the port.
fn steering_udp() -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut buf = [0; 2048];
        while let Ok((_, from)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(STEERING, from);
        }
    });
    port.to_string()
}

/// Reads whatever comes, and sends a byte of reply every 0.3 s, for ever.
fn trickle(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0; 1024];
    loop {
        let _ = stream.read(&mut buf);
        if stream.write_all(b"P").is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Answers every request with an SSH server's banner.
fn banner(mut stream: TcpStream) {
    let mut request = Vec::new();
    let _ = stream.read_to_end(&mut request);
    let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n");
}

/// Runs `upcase ARGS` with its standard input, output and error on a pseudo-terminal (or with
/// `shell`, a shell line run there); what the terminal showed.
fn on_a_terminal(args: &[&str], shell: Option<&str>) -> Vec<u8> {
    let runner = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
shown = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    shown += chunk
os.waitpid(pid, 0)
sys.stdout.buffer.write(shown)
"#;
    let mut command = Command::new("python3");
    command.args(["-c", runner]);
    match shell {
        Some(line) => command.args(["sh", "-c", line]),
        None => command.arg(binary()).args(args),
    };
    let out = command.stderr(Stdio::inherit()).output().expect("python3");
    out.stdout
}

fn assert_nothing_steers(shown: &[u8], what: &str) {
    let text = String::from_utf8_lossy(shown);
    for byte in [0x1b, 0x07, 0x9b] {
        assert!(
            !shown.contains(&byte),
            "{what}: byte {byte:#x} reached the terminal: {text:?}"
        );
    }
    assert!(
        text.contains("^[]52;c;aGVsbG8=^G^[[2J^[]0;pwned^G^GM-^[31mHELLO"),
        "{what}: {text:?}"
    );
}

#[test]
fn a_reply_s_control_sequences_are_shown_visibly_on_a_terminal_in_every_mode() {
    let tcp = thread_server(steering);
    let udp = steering_udp();
    let one_shot = on_a_terminal(&["client", "--port", &tcp, "hello"], None);
    assert_nothing_steers(&one_shot, "one-shot over TCP");
    let one_shot_udp = on_a_terminal(&["client", "--udp", "--port", &udp, "hello"], None);
    assert_nothing_steers(&one_shot_udp, "one-shot over UDP");
    let upcase = binary();
    let upcase = upcase.to_str().expect("a UTF-8 path");
    let piped = on_a_terminal(
        &[],
        Some(&format!("printf 'hello' | {upcase} client --port {tcp}")),
    );
    assert_nothing_steers(&piped, "standard input piped over TCP");
    let piped_udp = on_a_terminal(
        &[],
        Some(&format!(
            "printf 'hello\\n' | {upcase} client --udp --port {udp}"
        )),
    );
    assert_nothing_steers(&piped_udp, "standard input piped over UDP");
    // The prompt, a person typing a line at it.
    let mut prompt = Command::new("python3")
        .arg(textbook("pty_run.py"))
        .arg(upcase)
        .args(["client", "--port", &tcp])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    prompt
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"hello\n")
        .expect("type");
    let shown = prompt.wait_with_output().expect("output").stdout;
    assert_nothing_steers(&shown, "the prompt");
}

#[test]
fn raw_passes_them_and_piped_output_stays_byte_exact() {
    let tcp = thread_server(steering);
    let raw = on_a_terminal(&["client", "--raw", "--port", &tcp, "hello"], None);
    assert!(raw.windows(4).any(|w| w == b"\x1b]52"), "{raw:?}");
    // Not a terminal: every byte as it came.
    let out = upcase()
        .args(["client", "--port", &tcp, "hello"])
        .timeout(PATIENCE)
        .output()
        .expect("run");
    assert_eq!(out.stdout, STEERING);
}

#[test]
fn a_trickling_server_cannot_hold_probes_or_a_message() {
    let port = thread_server(trickle);
    let started = Instant::now();
    let out = upcase()
        .args([
            "client",
            "--port",
            &port,
            "--count",
            "2",
            "--interval",
            "100ms",
        ])
        .args(["--timeout", "1s"])
        .timeout(PATIENCE)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("no reply within 1s").count(), 2, "{text}");
    assert!(started.elapsed() < Duration::from_secs(20));
    for json in [false, true] {
        let mut command = upcase();
        command.args(["client", "--port", &port, "--max-time", "2s", "hello"]);
        if json {
            command.arg("--json");
        }
        let started = Instant::now();
        let out = command.timeout(PATIENCE).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("the reply did not arrive whole within --max-time 2s"),
            "{stderr}"
        );
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}

#[test]
fn a_wrong_reply_to_a_probe_is_reported_as_ping_reports_wrong_data() {
    let port = thread_server(banner);
    let out = upcase()
        .args([
            "client",
            "--port",
            &port,
            "--count",
            "2",
            "--interval",
            "100ms",
        ])
        .timeout(PATIENCE)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        text.matches("wrong data byte #0 should be 0x50 but was 0x53")
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("2 probes sent, 2 received, 2 wrong, 0% loss"),
        "{text}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("2 of 2 replies were wrong"), "{stderr}");
    let json = upcase()
        .args(["client", "--port", &port, "--count", "1", "--json"])
        .timeout(PATIENCE)
        .output()
        .expect("run");
    let lines = String::from_utf8_lossy(&json.stdout);
    let probe: serde_json::Value =
        serde_json::from_str(lines.lines().next().expect("a probe line")).expect("JSON");
    assert_eq!(
        probe["wrong"], "wrong data byte #0 should be 0x50 but was 0x53",
        "{lines}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(lines.lines().nth(1).expect("a summary")).expect("JSON");
    assert_eq!(summary["summary"]["wrong"], 1, "{lines}");
}

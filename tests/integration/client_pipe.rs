//! `upcase client` in pipe mode: standard input streamed through the server to standard output,
//! over TCP and TLS in bounded memory and over UDP a datagram per line, whatever the ends do.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::pki::{Pki, Validity, arg};
use crate::util::{PATIENCE, binary, start_server, upcase, wait_with_patience};

#[test]
fn piped_lines_over_udp_get_each_reply_in_order() {
    let server = start_server(&["--udp", "--bind", "127.0.0.1"]);
    upcase()
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
        ])
        .write_stdin("first line\nsecond\n\nstraße\nlast, no newline")
        .assert()
        .success()
        .stdout("FIRST LINE\nSECOND\n\nSTRASSE\nLAST, NO NEWLINE\n");
}

#[test]
fn piped_input_over_tcp_is_streamed_as_is() {
    let server = start_server(&["--tcp", "--bind", "::1"]);
    upcase()
        .args([
            "client",
            "--host",
            "::1",
            "--port",
            &server.port().to_string(),
        ])
        .write_stdin(&b"line one\nline two\nno newline \xff at end"[..])
        .assert()
        .success()
        .stdout(&b"LINE ONE\nLINE TWO\nNO NEWLINE \xff AT END"[..]);
}

/// The most memory `child` held, in KiB, sampled until it exits; fails the test if it runs
/// for more than three patiences, stalled.
fn peak_rss_until_exit(child: &mut std::process::Child) -> u64 {
    let started = Instant::now();
    let mut peak = 0;
    while child.try_wait().expect("wait").is_none() {
        assert!(started.elapsed() < PATIENCE * 3, "the client stalled");
        peak = peak.max(peak_rss_kib(child.id()).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    peak
}

/// The peak memory of process `pid` so far, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Writes `total` bytes of `pattern` over and over to `stdin`, on a thread of its own.
fn feed(
    mut stdin: std::process::ChildStdin,
    pattern: Vec<u8>,
    total: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sent = 0;
        while sent < total {
            let n = pattern.len().min(total - sent);
            stdin.write_all(&pattern[..n]).expect("feed the client");
            sent += n;
        }
    })
}

/// Checks, on a thread of its own, that `stdout` is `pattern` upper-cased over and over, as it
/// streams, without holding it; how many bytes came.
fn check_upper_cased(
    mut stdout: std::process::ChildStdout,
    pattern: Vec<u8>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        // Every pattern-sized piece of input upper-cases to the same bytes.
        let expected = String::from_utf8(pattern)
            .expect("utf-8")
            .to_uppercase()
            .into_bytes();
        let mut buf = vec![0; expected.len()];
        let mut received = 0;
        loop {
            let n = stdout
                .read(&mut buf[received % expected.len()..])
                .expect("read replies");
            if n == 0 {
                return received;
            }
            let start = received % expected.len();
            assert_eq!(
                buf[start..start + n],
                expected[start..start + n],
                "at byte {received}"
            );
            received += n;
        }
    })
}

/// 256 MiB through `client`, checked as it streams, in bounded memory.
fn streams_a_large_pipe(mut client: Command) {
    const TOTAL: usize = 256 << 20;
    let mut child = client
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client");
    // 32 bytes, of which "ΐ" (2 bytes) upper-cases to 6: the output is 9/8 of the input.
    let pattern: Vec<u8> = "the quick brown fox ΐ jumps ov\n".repeat(2048).into_bytes();
    let feed = feed(child.stdin.take().expect("stdin"), pattern.clone(), TOTAL);
    let check = check_upper_cased(child.stdout.take().expect("stdout"), pattern);
    let peak = peak_rss_until_exit(&mut child);
    feed.join().expect("feeder");
    let received = check.join().expect("checker");
    assert!(child.wait().expect("status").success());
    assert_eq!(received, TOTAL / 8 * 9);
    assert!(peak > 0, "the client's memory was sampled");
    assert!(
        peak < 64 * 1024,
        "the client held {peak} KiB: input must stream, not accumulate"
    );
}

#[test]
fn a_large_pipe_streams_through_without_deadlock_or_holding_it() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    streams_a_large_pipe(streaming_client(server.port(), Stdio::piped()));
    let (_pki, ca, server) = tls_server();
    streams_a_large_pipe(tls_client(&server, &ca));
}

/// An upcase TLS server for localhost, and the CA file that signed its certificate.
fn tls_server() -> (Pki, std::path::PathBuf, crate::util::Server) {
    let pki = Pki::new();
    let ca = pki.ca("pipe");
    let pair = pki.server(&ca, "server", &["localhost"], Validity::Now);
    let server = start_server(&["--tls", "--cert", arg(&pair.cert), "--key", arg(&pair.key)]);
    (pki, ca.cert.clone(), server)
}

/// `upcase client --tls` to `server`, trusting `ca`.
fn tls_client(server: &crate::util::Server, ca: &std::path::Path) -> Command {
    let mut command = Command::new(binary());
    command
        .args([
            "client",
            "--tls",
            "--host",
            "localhost",
            "--cacert",
            arg(ca),
        ])
        .args(["--port", &server.tls().port().to_string()]);
    command
}

/// Each line's reply comes while the input is still open, over `client`: a pipe is a
/// conversation, not a batch.
fn answers_as_it_goes(mut client: Command) {
    let child = client
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut child = crate::util::Killed(child);
    let mut stdin = child.0.stdin.take().expect("stdin");
    let stdout = std::io::BufReader::new(child.0.stdout.take().expect("stdout"));
    let (lines, replies) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(stdout) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    for line in ["first", "second"] {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .expect("a line");
        let reply = replies
            .recv_timeout(PATIENCE)
            .expect("a reply before the input ends");
        assert_eq!(reply.expect("a line of reply"), line.to_uppercase());
    }
    drop(stdin);
    assert!(wait_with_patience(&mut child.0).success());
}

#[test]
fn a_pipe_answers_each_line_before_the_input_ends() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    answers_as_it_goes(streaming_client(server.port(), Stdio::piped()));
    let (_pki, ca, server) = tls_server();
    answers_as_it_goes(tls_client(&server, &ca));
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let server = start_server(&["--udp", "--bind", "127.0.0.1"]);
    let mut child = Command::new(binary())
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &server.port().to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    stdin.write_all(b"first\n").expect("send");
    let mut first = [0; 6];
    stdout.read_exact(&mut first).expect("first reply");
    assert_eq!(&first, b"FIRST\n");
    drop(stdout); // like `| head -1`
    stdin.write_all(b"second\nthird\n").expect("send");
    drop(stdin);
    let status = wait_with_patience(&mut child);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!((status.code(), stderr.as_str()), (Some(0), ""));
}

/// `upcase client` on a TCP server, with stdin taken from `stdin`.
fn streaming_client(port: u16, stdin: Stdio) -> Command {
    let mut command = Command::new(binary());
    command
        .args(["client", "--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(stdin)
        .stdout(Stdio::piped());
    command
}

/// What upcase's upper case makes of `input`: text upper-cased, bytes that are not UTF-8
/// (a character cut off at the end included) passed through as they are.
fn upper_of(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in input.utf8_chunks() {
        out.extend_from_slice(chunk.valid().to_uppercase().as_bytes());
        out.extend_from_slice(chunk.invalid());
    }
    out
}

#[test]
fn piped_and_redirected_streams_come_back_exactly_transformed_whatever_their_end() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let line = "a line with straße and ΐ, ".repeat(40) + "\n";
    // Small (sent whole on one thread) and large (streamed on two), each ending mid-line and
    // in the middle of a character.
    for size in [100, 20_000, 3 << 20] {
        let mut input = line.repeat(size / line.len() + 1).into_bytes();
        input.truncate(size);
        input.extend_from_slice("ß ends here, cut: ΐ".as_bytes());
        input.pop(); // the last byte of ΐ: the stream ends inside a character
        let expected = upper_of(&input);
        // From a file.
        let path = dir.path().join(format!("input-{size}"));
        std::fs::write(&path, &input).expect("write the input");
        let file = std::fs::File::open(&path).expect("open the input");
        let output = streaming_client(server.port(), Stdio::from(file))
            .output()
            .expect("run");
        assert!(output.status.success(), "{output:?}");
        assert!(
            output.stdout == expected,
            "from a file of {size}: {} bytes",
            output.stdout.len()
        );
        // From a pipe.
        let mut child = streaming_client(server.port(), Stdio::piped())
            .spawn()
            .expect("start");
        let mut stdin = child.stdin.take().expect("stdin");
        let feed = {
            let input = input.clone();
            std::thread::spawn(move || stdin.write_all(&input).expect("feed"))
        };
        let output = child.wait_with_output().expect("run");
        feed.join().expect("feeder");
        assert!(output.status.success(), "{output:?}");
        assert!(
            output.stdout == expected,
            "from a pipe of {size}: {} bytes",
            output.stdout.len()
        );
    }
}

#[test]
fn a_stream_whose_reader_goes_away_midway_still_exits_0() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("input");
    std::fs::write(&path, "lower case text\n".repeat(4 << 20)).expect("write the input");
    let file = std::fs::File::open(&path).expect("open the input");
    let mut child = streaming_client(server.port(), Stdio::from(file))
        .spawn()
        .expect("start");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = vec![0; 1 << 20];
    stdout
        .read_exact(&mut first)
        .expect("the first MiB of replies");
    assert!(first.starts_with(b"LOWER CASE TEXT\n"));
    drop(stdout);
    assert_eq!(wait_with_patience(&mut child).code(), Some(0));
}

#[test]
fn a_large_file_streams_through_in_bounded_memory() {
    let server = start_server(&["--tcp", "--bind", "127.0.0.1"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("input");
    let line = "the quick brown fox jumps over the lazy dog\n";
    std::fs::write(&path, line.repeat((128 << 20) / line.len())).expect("write the input");
    let file = std::fs::File::open(&path).expect("open the input");
    let mut child = streaming_client(server.port(), Stdio::from(file))
        .spawn()
        .expect("start");
    let mut stdout = child.stdout.take().expect("stdout");
    let counting = std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let peak = peak_rss_until_exit(&mut child);
    let received = counting.join().expect("reader").expect("replies");
    assert!(child.wait().expect("status").success());
    assert_eq!(
        received,
        (128 << 20) / line.len() as u64 * line.len() as u64
    );
    assert!(peak > 0 && peak < 32 * 1024, "the client held {peak} KiB");
}

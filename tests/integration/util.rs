//! Helpers shared by the integration tests: the binary and the programs beside it, servers on
//! port 0 and their logs, signals; `net.rs`, exchanges over the network; `nginx.rs`, nginx's
//! stream module in front of servers; `pki.rs`, certificates; `bed.rs`, hosts in network
//! namespaces on a bridge, with loss and a slow link.

pub mod bed;
pub mod manifest;
mod net;
pub mod nginx;
pub mod pki;
pub mod pyenv;
mod watch;

pub use net::*;
pub use watch::LogWatch;

use std::io::Write;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// How long any single process in a test may take before the test fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The `upcase` binary, ready for assert_cmd, with logging at its defaults.
pub fn upcase() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::new(binary());
    command.env_remove("RUST_LOG").timeout(PATIENCE);
    command
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_upcase"))
}

/// A program in `examples/`, which `cargo test` builds beside the binary.
pub fn example(name: &str) -> PathBuf {
    let path = binary()
        .parent()
        .expect("target directory")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test`, which builds examples",
        path.display()
    );
    path
}

/// A textbook program in `tests/textbook/`.
pub fn textbook(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/textbook")
        .join(name)
}

/// A server process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub quic: Option<SocketAddr>,
    /// Kept open so the server never writes to a closed pipe.
    stdout: BufReader<ChildStdout>,
    /// What the server logs, collected as it comes when asked for (see `with_log`).
    log: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// The next line the server prints on stdout after its ready lines for UDP and TCP.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("a line");
        line
    }

    pub fn udp(&self) -> SocketAddr {
        self.udp.expect("serving udp")
    }

    pub fn tcp(&self) -> SocketAddr {
        self.tcp.expect("serving tcp")
    }

    pub fn tls(&self) -> SocketAddr {
        self.tls.expect("serving tls")
    }

    pub fn quic(&self) -> SocketAddr {
        self.quic.expect("serving quic")
    }

    /// The common port of the server's sockets.
    pub fn port(&self) -> u16 {
        self.tcp.or(self.udp).expect("a socket").port()
    }

    /// Sends `signal` (a name for `kill -s`) and waits for the exit status.
    pub fn signal(self, signal: &str) -> std::process::ExitStatus {
        self.signal_and_log(signal).0
    }

    /// Sends `signal`, waits for the exit status, and returns it with everything the server
    /// logged (empty unless it was started `with_log`).
    pub fn signal_and_log(mut self, signal: &str) -> (std::process::ExitStatus, String) {
        send_signal(self.child.id(), signal);
        let status = wait_with_patience(&mut self.child);
        let log = self
            .log
            .take()
            .map(|log| log.join().expect("log reader"))
            .unwrap_or_default();
        (status, log)
    }

    /// The server's resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server is running");
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .expect("VmRSS");
        line.split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .expect("a number")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `signal` (a name for `kill -s`) to process `pid`.
pub fn send_signal(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -s {signal} {pid}");
}

/// Waits for `child`, failing the test rather than hanging if it does not exit in time.
pub fn wait_with_patience(child: &mut Child) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            panic!("process {} did not exit within {PATIENCE:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Reads with `read` until `done` holds of what it read, or [`PATIENCE`] has passed; returns
/// the last reading, for the test to assert on.
pub fn read_until<T>(mut read: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let start = std::time::Instant::now();
    loop {
        let reading = read();
        if done(&reading) || start.elapsed() > PATIENCE {
            return reading;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `upcase server` with `args` on port 0 and waits for its ready lines: one for each of
/// `--udp` and `--tcp` in `args`, or both when neither is.
pub fn start_server(args: &[&str]) -> Server {
    spawn_server(&mut server_command(args), &transports_in(args))
}

/// As `start_server`, keeping what the server logs at RUST_LOG `level`, for `signal_and_log`.
pub fn start_server_logged(args: &[&str], level: &str) -> Server {
    let mut command = server_command(args);
    command.env("RUST_LOG", level);
    spawn_server_logged(&mut command, &transports_in(args))
}

/// As `spawn_server`, keeping what the server logs on stderr, for `signal_and_log`.
pub fn spawn_server_logged(command: &mut Command, transports: &[&str]) -> Server {
    command.stderr(Stdio::piped());
    let mut server = spawn_server(command, transports);
    let mut stderr = server.child.stderr.take().expect("stderr");
    // Read as it comes, so that the server never blocks on a full pipe.
    server.log = Some(std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        log
    }));
    server
}

fn server_command(args: &[&str]) -> Command {
    let mut command = Command::new(binary());
    command
        .arg("server")
        .args(["--port", "0", "--tls-port", "0", "--quic-port", "0"])
        .args(args);
    command
}

/// The ready lines a server started with `args` prints: the transports named, or UDP and TCP.
fn transports_in(args: &[&str]) -> Vec<&'static str> {
    let named: Vec<&'static str> = ["udp", "tcp", "tls", "quic"]
        .into_iter()
        .filter(|name| args.contains(&format!("--{name}").as_str()))
        .collect();
    if named.is_empty() {
        vec!["udp", "tcp"]
    } else {
        named
    }
}

/// Starts a server command and waits for its `listening on PROTO ADDR` line for each of
/// `transports`, in that order.
pub fn spawn_server(command: &mut Command, transports: &[&str]) -> Server {
    if !command.get_envs().any(|(key, _)| key == "RUST_LOG") {
        command.env("RUST_LOG", "warn").stderr(Stdio::inherit());
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut udp, mut tcp, mut tls, mut quic) = (None, None, None, None);
    for &expected in transports {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read ready line");
        let (proto, addr) = ready_line(&line);
        assert_eq!(proto, expected, "ready lines in order: {line:?}");
        match proto {
            "udp" => udp = Some(addr),
            "tls" => tls = Some(addr),
            "quic" => quic = Some(addr),
            _ => tcp = Some(addr),
        }
    }
    Server {
        child,
        udp,
        tcp,
        tls,
        quic,
        stdout,
        log: None,
    }
}

/// Parses `listening on PROTO ADDR`, insisting on that exact form.
pub fn ready_line(line: &str) -> (&'static str, SocketAddr) {
    let rest = line.strip_suffix('\n').expect("a whole line");
    let rest = rest
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not a ready line: {line:?}"));
    let (proto, addr) = rest.split_once(' ').expect("PROTO ADDR");
    let proto = match proto {
        "udp" => "udp",
        "tcp" => "tcp",
        "tls" => "tls",
        "quic" => "quic",
        other => panic!("unknown transport {other:?}"),
    };
    (
        proto,
        addr.parse()
            .unwrap_or_else(|_| panic!("not an address: {addr:?}")),
    )
}

/// A loopback port with nothing listening on it, for TCP or UDP (bound, then freed).
pub fn closed_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// Starts one of the textbook's Python servers and returns it with its port.
pub fn start_textbook_server(name: &str) -> (Child, u16) {
    start_announcing(Command::new("python3").arg(textbook(name)))
}

/// Starts `command`, a server that says `The server is ready to receive on port N` first, as
/// the textbook's servers (and the examples built on them) do here; the server and its port.
pub fn start_announcing(command: &mut Command) -> (Child, u16) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{command:?} does not run: {error}"));
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(
        line.starts_with("The server is ready to receive on port "),
        "{line}"
    );
    let port = line
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

/// A child process killed when the test ends, passed or not.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program`, types `line` at it as a person would, and gives what it did.
pub fn typed(program: &mut Command, line: &str) -> std::process::Output {
    let mut child = program
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{program:?} does not run: {error}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(line.as_bytes())
        .expect("type the sentence");
    child.wait_with_output().expect("its output")
}

/// As `start_server`, with its log at RUST_LOG `level` watched line by line.
pub fn start_server_watched(args: &[&str], level: &str) -> (Server, LogWatch) {
    let mut command = server_command(args);
    command.env("RUST_LOG", level).stderr(Stdio::piped());
    let mut server = spawn_server(&mut command, &transports_in(args));
    let stderr = server.child.stderr.take().expect("stderr");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stderr = BufReader::new(stderr);
        let mut line = String::new();
        while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
            if send.send(std::mem::take(&mut line)).is_err() {
                return;
            }
        }
    });
    (server, LogWatch::new(lines))
}

//! Helpers for the server's tests: a server on port 0, run in-process through `run`.

#![allow(dead_code)] // Each test file uses its own share of these.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use upcase_proto::{Builtin, Transform};
use upcase_server::{Access, Options, Serve, Service, Totals, parse_network, run, serve};
use upcase_transport::{ServerSocket, Transport};

/// How long a test waits for anything before it fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running server: its address, the switch that stops it, and its task.
pub struct Server {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Totals>,
}

impl Server {
    /// Stops the server and waits for `run` to return what it did.
    pub async fn shut_down(self) -> Totals {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("run returns after shutdown")
            .expect("run does not panic")
    }
}

/// Binds `T` on `at` (port 0) and runs a server with a built-in transform on a task.
pub async fn start_server<T: Transport + Default>(
    at: &str,
    transform: &str,
    options: Options,
) -> Server
where
    T::Server: Serve,
{
    let transform: Builtin = transform.parse().expect("transform");
    start_server_with::<T, _>(at, transform, options).await
}

/// Binds `T` on `at` (port 0) and runs a server with any transform on a task.
pub async fn start_server_with<T: Transport + Default, X: Transform>(
    at: &str,
    transform: X,
    options: Options,
) -> Server
where
    T::Server: Serve,
{
    spawn_on::<T, _>(at, |listener, stopped| {
        run(listener, transform, options, stopped)
    })
    .await
}

/// [`start_server`], served through [`serve`] with a [`Service`] that the test keeps, to watch
/// it while it serves.
pub async fn start_service<T: Transport + Default>(
    at: &str,
    transform: &str,
    options: Options,
) -> (Server, Arc<Service>)
where
    T::Server: Serve,
{
    let transform: Builtin = transform.parse().expect("transform");
    let service = Service::new(options);
    let kept = Arc::clone(&service);
    let server = spawn_on::<T, _>(at, move |listener, stopped| async move {
        serve(listener, transform, &service, stopped).await;
        service.totals()
    })
    .await;
    (server, kept)
}

/// Binds `T` on `at` (port 0) and runs `serving` on its listener on a task, until
/// [`Server::shut_down`].
async fn spawn_on<T: Transport + Default, F>(
    at: &str,
    serving: impl FnOnce(T::Server, oneshot::Receiver<()>) -> F,
) -> Server
where
    F: Future<Output = Totals> + Send + 'static,
{
    let listener = T::default()
        .bind(at.parse().expect("address"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serving(listener, stopped));
    Server { addr, stop, task }
}

/// Reads exactly `n` bytes, or fails the test.
pub async fn read_exactly(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut buf))
        .await
        .expect("reply in time")
        .expect("reply");
    buf
}

/// Reads until the server closes, or fails the test.
pub async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply))
        .await
        .expect("closed in time")
        .expect("a clean close");
    reply
}

/// The next datagram on `socket`, or `None` if none comes within `wait`.
pub async fn datagram_within(socket: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0; 65_536];
    match tokio::time::timeout(wait, socket.recv(&mut buf)).await {
        Ok(Ok(n)) => Some(buf[..n].to_vec()),
        Ok(Err(error)) => panic!("receive failed: {error}"),
        Err(_) => None,
    }
}

/// A UDP socket on `at`, connected to `server`.
pub async fn udp_client(at: &str, server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind(at).await.expect("bind");
    socket.connect(server).await.expect("connect");
    socket
}

/// One UDP exchange that must succeed.
pub async fn udp_exchange(at: &str, server: SocketAddr, message: &[u8]) -> Vec<u8> {
    let socket = udp_client(at, server).await;
    socket.send(message).await.expect("send");
    datagram_within(&socket, PATIENCE).await.expect("a reply")
}

/// One TCP exchange that must succeed: send, half-close, read to the end.
pub async fn tcp_exchange(server: SocketAddr, message: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    let mut stream = TcpStream::connect(server).await.expect("connect");
    stream.write_all(message).await.expect("send");
    stream.shutdown().await.expect("half-close");
    read_to_close(&mut stream).await
}

/// The transform of `input` by the built-in `name`, computed in-process to check replies.
pub fn expected(name: &str, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    upcase_proto::Transformer::new(name.parse::<Builtin>().expect("transform"))
        .datagram(input, &mut out)
        .expect("no line limit");
    out
}

/// `len` bytes of noise, the same for the same seed (xorshift; tests need no better).
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A TCP connection from a given loopback source address.
pub async fn connect_from(source: &str, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{source}:0").parse().expect("address"))?;
    socket.connect(server).await
}

/// What the server logs on this thread, at debug level, while the value lives.
///
/// `#[tokio::test]` runs every task on the test's own thread, so the thread's default
/// subscriber sees the server's lines and no other test's.
pub struct Log {
    lines: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Log {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().expect("log lock")).into_owned()
    }

    /// Fails the test unless some line contains every one of `parts`.
    #[track_caller]
    pub fn assert_line(&self, parts: &[&str]) {
        let text = self.text();
        let found = text
            .lines()
            .any(|line| parts.iter().all(|part| line.contains(part)));
        assert!(found, "no log line with {parts:?} in:\n{text}");
    }
}

pub fn capture_log() -> Log {
    #[derive(Clone)]
    struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("log lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = std::sync::Arc::default();
    let writer = Writer(std::sync::Arc::clone(&lines));
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    Log {
        lines,
        _guard: tracing::subscriber::set_default(subscriber),
    }
}

/// An access list of `allow` and `deny` networks.
pub fn access(allow: &[&str], deny: &[&str]) -> Access {
    let nets = |list: &[&str]| {
        list.iter()
            .map(|n| parse_network(n).expect("network"))
            .collect()
    };
    Access {
        allow: nets(allow),
        deny: nets(deny),
    }
}

//! Exchanges with a server over the network: the textbook protocol over UDP and TCP, HTTP
//! for `--metrics`, and datagrams forged from a raw socket.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};

use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{PATIENCE, Server};

/// One UDP exchange with `server`, from a socket on `from`.
pub fn udp_exchange(server: SocketAddr, from: &str, message: &[u8]) -> Vec<u8> {
    let socket = UdpSocket::bind(from).expect("bind");
    socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
    socket.send_to(message, server).expect("send");
    let mut buf = vec![0; 65_536];
    let (n, _) = socket.recv_from(&mut buf).expect("reply");
    buf.truncate(n);
    buf
}

/// One TCP exchange: send, half-close, read to the end.
pub fn tcp_exchange(server: SocketAddr, message: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(server).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(message).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("reply");
    reply
}

/// A plain HTTP/1.1 GET, as a Prometheus scraper makes it; the whole response.
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    http_request(addr, "GET", path)
}

/// `METHOD path` over HTTP/1.1 to `addr`, with `Connection: close`; the whole response.
pub fn http_request(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: upcase\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// Reads the `listening on http ADDR` line that follows a server's other ready lines.
pub fn metrics_addr(server: &mut Server) -> SocketAddr {
    let line = server.next_line();
    line.trim_end()
        .strip_prefix("listening on http ")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("not a metrics ready line: {line:?}"))
}

/// Whether the other end closes `stream` (end of stream or reset) within [`PATIENCE`], reading
/// and dropping whatever comes before that.
pub fn closed_by_peer(stream: &mut TcpStream) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = std::time::Instant::now();
    let mut buf = [0; 4096];
    while start.elapsed() < PATIENCE {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A counter or gauge from a server's `--metrics`, by its whole name and labels.
pub fn metric(metrics: SocketAddr, name: &str) -> u64 {
    let text = http_get(metrics, "/metrics");
    let values: Vec<u64> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            let value = match rest.strip_prefix(' ') {
                Some(value) => value,
                // A name without labels stands for all its samples, whatever their labels.
                None if !name.contains('{') => rest.strip_prefix('{')?.split_once("} ")?.1,
                None => return None,
            };
            value.parse().ok()
        })
        .collect();
    assert!(!values.is_empty(), "no {name} in:\n{text}");
    values.iter().sum()
}

/// A connection to `server` from the loopback address `source` (any of 127.0.0.0/8), with
/// [`PATIENCE`] to read.
pub fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{source}:0").parse().expect("a source address");
    socket.bind(&from.into()).expect("bind the source");
    socket.connect(&server.into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
}

/// A TCP server on loopback that hands each connection to `serve`, on a thread of its own;
/// its port.
pub fn thread_server(serve: fn(TcpStream)) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port.to_string()
}

/// A raw IPv4 socket that writes its own headers; `None`, with the reason printed, where there
/// can be none (it takes root), for the test to skip.
pub fn raw_socket() -> Socket {
    // IPPROTO_RAW: the packet given is the whole IP packet, header included.
    Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255))).unwrap_or_else(|error| {
        panic!(
            "a raw socket to forge sources needs root ({error}): run `bash scripts/test.sh` as root"
        )
    })
}

/// Sends one UDP datagram with `payload` that claims to come from `from`, to `to`.
pub fn forge(raw: &Socket, from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) {
    let udp_len = 8 + payload.len() as u16;
    let mut packet = Vec::new();
    // IPv4 header: the kernel fills in the total length, the identification and the checksum.
    packet.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0]);
    packet.extend_from_slice(&from.ip().octets());
    packet.extend_from_slice(&to.ip().octets());
    // UDP header, with no checksum (allowed over IPv4).
    packet.extend_from_slice(&from.port().to_be_bytes());
    packet.extend_from_slice(&to.port().to_be_bytes());
    packet.extend_from_slice(&udp_len.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    raw.send_to(&packet, &SocketAddr::V4(to).into())
        .expect("send the forged datagram");
}

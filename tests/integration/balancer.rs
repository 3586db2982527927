//! Three upcase servers behind nginx's stream module, a real L4 load balancer, for TCP (with the
//! PROXY protocol) and UDP: every reply checked, every server used, every client seen by its
//! own address. `scripts/test.sh` installs nginx and its stream module.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;

use crate::util::nginx::{Nginx, start_nginx, upstream};
use crate::util::{PATIENCE, Server, metric, read_until, start_server_logged};

fn free_port() -> u16 {
    // A port free for both TCP and UDP, found by binding both.
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = tcp.local_addr().expect("address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_balancer(dir: &Path, port: u16, upstreams: &[u16]) -> Nginx {
    let servers = upstream(upstreams);
    let stream = format!(
        "upstream tcp_servers {{ {servers} }}\n\
         upstream udp_servers {{ {servers} }}\n\
         server {{ listen 127.0.0.1:{port}; proxy_pass tcp_servers; proxy_protocol on; \
                   proxy_half_close on; }}\n\
         server {{ listen 127.0.0.1:{port} udp; proxy_pass udp_servers; \
                   proxy_responses 1; proxy_timeout 5s; }}"
    );
    start_nginx(dir, &stream)
}

/// Each server's `upcase_requests_total`, read from its metrics endpoint.
fn requests(metrics: &[SocketAddr]) -> Vec<u64> {
    metrics
        .iter()
        .map(|&addr| metric(addr, "upcase_requests_total"))
        .collect()
}

/// [`requests`] once they add up to `total`. A server counts a connection when its close is
/// done, which is after its client has read the end of the stream, so the last one may not
/// be counted yet when the client is done with it.
fn requests_adding_up_to(metrics: &[SocketAddr], total: u64) -> Vec<u64> {
    read_until(
        || requests(metrics),
        |counts| counts.iter().sum::<u64>() >= total,
    )
}

/// `count` TCP clients through the balancer on `port`, each answered; their ports.
fn tcp_clients_through(port: u16, count: usize) -> Vec<u16> {
    let mut client_ports = Vec::new();
    for i in 0..count {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect through nginx");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        client_ports.push(stream.local_addr().expect("address").port());
        let message = format!("stream {i} straße");
        stream.write_all(message.as_bytes()).expect("send");
        stream.shutdown(Shutdown::Write).expect("half-close");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("reply");
        assert_eq!(reply, message.to_uppercase());
    }
    client_ports
}

/// `count` UDP clients through the balancer on `port`, each a socket of its own, answered.
fn udp_clients_through(port: u16, count: usize) {
    for i in 0..count {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let message = format!("datagram {i}");
        socket
            .send_to(message.as_bytes(), ("127.0.0.1", port))
            .expect("send");
        let mut reply = [0; 64];
        let n = socket.recv(&mut reply).expect("reply through nginx");
        assert_eq!(&reply[..n], message.to_uppercase().as_bytes());
    }
}

#[test]
#[ignore = "needs nginx and its stream module; `bash scripts/test.sh` installs them and runs it"]
fn three_servers_behind_nginx_share_tcp_and_udp_clients() {
    let mut servers: Vec<Server> = (0..3)
        .map(|_| {
            start_server_logged(
                &[
                    "--bind",
                    "127.0.0.1",
                    "--proxy-protocol",
                    "--metrics",
                    "127.0.0.1:0",
                    // nginx, on loopback, relays every client's datagrams from its own
                    // address: named as the balancer, it is not held to one source's rate.
                    "--proxy-from",
                    "127.0.0.1",
                ],
                "debug",
            )
        })
        .collect();
    let metrics: Vec<SocketAddr> = servers
        .iter_mut()
        .map(|server| {
            let line = server.next_line();
            line.trim_end()
                .strip_prefix("listening on http ")
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("not a metrics ready line: {line:?}"))
        })
        .collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let upstreams: Vec<u16> = servers.iter().map(Server::port).collect();
    let nginx = start_balancer(dir.path(), port, &upstreams);

    // TCP: nginx balances connections round-robin.
    let client_ports = tcp_clients_through(port, 30);
    let after_tcp = requests_adding_up_to(&metrics, 30);
    assert!(
        after_tcp.iter().all(|&n| n > 0),
        "a server got no TCP client: {after_tcp:?}"
    );
    assert_eq!(after_tcp.iter().sum::<u64>(), 30);

    // UDP: each client socket is a session of its own, balanced round-robin.
    udp_clients_through(port, 30);
    let after_udp = requests_adding_up_to(&metrics, 60);
    for (before, after) in after_tcp.iter().zip(&after_udp) {
        assert!(
            after > before,
            "a server got no UDP client: {after_tcp:?} then {after_udp:?}"
        );
    }
    assert_eq!(after_udp.iter().sum::<u64>(), 60);
    drop(nginx);

    // Behind the balancer, each connection was logged by its client's own address and port.
    let logs: String = servers
        .into_iter()
        .map(|server| server.signal_and_log("TERM").1)
        .collect();
    for client in client_ports {
        let line = format!("connection from 127.0.0.1:{client}: served");
        assert!(
            logs.contains(&line),
            "{line:?} missing from the servers' logs:\n{logs}"
        );
    }
}

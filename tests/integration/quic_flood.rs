//! QUIC against forged Initial packets, sent from a raw socket in the names of addresses the
//! test listens on: before an address is proven, the server sends it nothing but a Retry
//! (RFC 9000 §8.1.2), far under three times what came from it, however many come; a real
//! client, which answers its Retry, is served all the while.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::Command;
use std::time::Duration;

use crate::quic::{client, quic_server, setup};
use crate::util::pyenv::{python, support};
use crate::util::{forge, raw_socket};

/// `count` Initial packets, each of a connection of its own, made by aioquic.
fn initials(count: usize) -> Vec<Vec<u8>> {
    let file = tempfile::NamedTempFile::new().expect("a file");
    let made = Command::new(python())
        .arg(support("quic_initials.py"))
        .arg(count.to_string())
        .arg(file.path())
        .status()
        .expect("run aioquic");
    assert!(made.success());
    let bytes = std::fs::read(file.path()).expect("the packets");
    let mut packets = Vec::new();
    let mut rest = &bytes[..];
    while let [high, low, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        packets.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    assert_eq!(packets.len(), count);
    packets
}

/// The victims: sockets on 127.0.0.9 whose addresses the Initials are forged from.
fn victims(count: usize) -> Vec<UdpSocket> {
    (0..count)
        .map(|_| {
            let socket = UdpSocket::bind("127.0.0.9:0").expect("a victim socket");
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
            socket
        })
        .collect()
}

/// What reaches `victims` until `spell` of quiet after the last datagram: bytes and datagrams
/// in all, and how many were Retry packets (a long header of type 3).
fn received(victims: &[UdpSocket], spell: Duration) -> (usize, usize, usize) {
    let (mut bytes, mut datagrams, mut retries) = (0, 0, 0);
    let mut quiet_since = std::time::Instant::now();
    let mut buf = [0u8; 65_536];
    // A fixed spell, to show what does not come: a handshake's first flight, and its
    // retransmissions, would come within it.
    while quiet_since.elapsed() < spell {
        for victim in victims {
            while let Ok(n) = victim.recv(&mut buf) {
                bytes += n;
                datagrams += 1;
                retries += usize::from(buf[0] & 0xf0 == 0xf0);
                quiet_since = std::time::Instant::now();
            }
        }
    }
    (bytes, datagrams, retries)
}

#[test]
#[ignore = "needs root for a raw socket that forges sources; `bash scripts/test.sh` runs it as root"]
fn forged_initials_get_one_small_retry_each_and_a_real_client_is_served() {
    let raw = raw_socket();
    let (_pki, ca, pair) = setup();
    let server = quic_server(&pair, &["--max-connections-per-source", "0"]);
    let port = server.quic().port();
    let to = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
    let packets = initials(48);
    let victims = victims(packets.len());
    for (packet, victim) in packets.iter().zip(&victims) {
        let from = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 9), local_port(victim));
        forge(&raw, from, to, packet);
    }
    let sent: usize = packets.iter().map(Vec::len).sum();
    let (bytes, datagrams, retries) = received(&victims, Duration::from_secs(3));
    // Each address got one Retry, and nothing else: not a handshake, not a retransmission.
    assert_eq!(
        (datagrams, retries),
        (packets.len(), packets.len()),
        "{bytes} bytes"
    );
    assert!(3 * bytes <= sent, "{bytes} bytes back for {sent} sent");
    client(port, &ca)
        .arg("still served")
        .assert()
        .success()
        .stdout("STILL SERVED\n");
}

fn local_port(socket: &UdpSocket) -> u16 {
    socket.local_addr().expect("address").port()
}

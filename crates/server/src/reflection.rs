//! The reflection rules of docs/PROTOCOL.md §8: which datagram sources must never be answered,
//! because a forged one would make the reply hit a third party or start a loop.

use std::net::{IpAddr, SocketAddr};

/// Ports of the small services that answer anything they receive: echo, discard, systat,
/// daytime, netstat, qotd, chargen, time. Answering a datagram "from" one of them can start two
/// servers answering each other forever (CERT CA-1996-01); NetBSD's inetd refuses the same
/// ports in `port_good_dg`.
const SMALL_SERVICES: [u16; 8] = [7, 9, 11, 13, 15, 17, 19, 37];

/// Why a datagram must not be answered, if it must not: its source could be forged to make the
/// reply hit a third party or start a loop. `own_port` is the port the server listens on: a
/// datagram from that port on another host is most likely another upcase or echo server.
pub(crate) fn reflection_risk(from: SocketAddr, own_port: u16) -> Option<String> {
    let port = from.port();
    if port == 0 {
        return Some("source port 0 cannot be answered".into());
    }
    if SMALL_SERVICES.contains(&port) {
        return Some(format!(
            "source port {port} is a small service that answers anything"
        ));
    }
    if port == own_port {
        return Some(format!(
            "source port {port} is this service's own, as another server's would be"
        ));
    }
    let ip = from.ip().to_canonical();
    let what = match ip {
        IpAddr::V4(v4) if v4.is_broadcast() => "broadcast",
        IpAddr::V4(v4) if v4.octets()[0] == 0 => "unspecified",
        IpAddr::V6(v6) if v6.is_unspecified() => "unspecified",
        ip if ip.is_multicast() => "multicast",
        _ => return None,
    };
    Some(format!("source address {ip} is {what}"))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::{SMALL_SERVICES, reflection_risk};

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    #[test]
    fn reflection_risks_are_named() {
        for (from, reason) in [
            ("192.0.2.1:0", "source port 0 cannot be answered"),
            (
                "192.0.2.1:7",
                "source port 7 is a small service that answers anything",
            ),
            (
                "[2001:db8::1]:19",
                "source port 19 is a small service that answers anything",
            ),
            (
                "192.0.2.1:12000",
                "source port 12000 is this service's own, as another server's would be",
            ),
            (
                "255.255.255.255:5000",
                "source address 255.255.255.255 is broadcast",
            ),
            ("0.0.0.0:5000", "source address 0.0.0.0 is unspecified"),
            ("[::]:5000", "source address :: is unspecified"),
            ("224.0.0.1:5000", "source address 224.0.0.1 is multicast"),
            ("[ff02::1]:5000", "source address ff02::1 is multicast"),
            (
                "[::ffff:239.1.2.3]:5000",
                "source address 239.1.2.3 is multicast",
            ),
        ] {
            assert_eq!(
                reflection_risk(addr(from), 12000).as_deref(),
                Some(reason),
                "{from}"
            );
        }
        for ok in ["192.0.2.1:5000", "[::1]:40000", "127.0.0.1:1024"] {
            assert_eq!(reflection_risk(addr(ok), 12000), None, "{ok}");
        }
        for port in [7, 9, 13, 17, 19, 37] {
            assert!(
                SMALL_SERVICES.contains(&port),
                "the ports the protocol names"
            );
        }
    }
}

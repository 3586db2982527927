//! Each datagram's destination, by `IP_PKTINFO` and `IPV6_PKTINFO` (Linux), and the
//! control message that makes its reply leave from it.
//!
//! A socket bound to every address hears datagrams sent to any of the host's addresses, and
//! to its broadcast and multicast ones. The packet-info control message says which, as
//! quinn-udp reads it: for IPv4, the kernel gives the header's destination (`ipi_addr`) and
//! the local address it would answer from (`ipi_spec_dst`), which are the same exactly when
//! the destination is one of the host's own unicast addresses; for IPv6, the destination,
//! whose multicast prefix says the rest (IPv6 has no broadcast). A reply then leaves from that
//! destination, with the same control message, so that it comes from the address its client
//! sent to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, SockaddrStorage, getsockname, setsockopt, sockopt,
};

use super::{Socket, to_std};
use crate::batch::Destination;

/// Asks the kernel for each datagram's destination, where it can be other than the socket's
/// own address: on a socket bound to every address (`::`, `0.0.0.0`). One bound to a single
/// address hears only datagrams sent to it, and replies from it, so it pays nothing: the
/// control messages cost an allocation and a copy each way (docs/BENCHMARKS.md). An IPv4
/// socket takes `IP_PKTINFO`; a dual-stack one both, since its IPv4 clients' datagrams come
/// with the IPv4 message. Whether they were asked for.
pub(crate) fn learn_destinations(socket: &impl Socket) -> bool {
    let every_address = getsockname::<SockaddrStorage>(socket.as_fd().as_raw_fd())
        .ok()
        .as_ref()
        .and_then(to_std)
        .is_some_and(|addr| addr.ip().is_unspecified());
    if !every_address {
        return false;
    }
    let v4 = setsockopt(socket, sockopt::Ipv4PacketInfo, &true).is_ok();
    let v6 = setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true).is_ok();
    v4 || v6
}

/// Room for one datagram's control messages: on a dual-stack socket an IPv4 client's
/// datagram comes with both packet-info messages.
pub(super) fn control_space() -> Vec<u8> {
    nix::cmsg_space!(libc::in_pktinfo, libc::in6_pktinfo)
}

/// The destination a packet-info control message gives, if `message` is one.
pub(super) fn destination(message: ControlMessageOwned) -> Option<Destination> {
    match message {
        ControlMessageOwned::Ipv4PacketInfo(info) => {
            let to = Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr));
            let local = Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr));
            // The kernel answers from the destination itself only when the route to it is
            // local, not broadcast or multicast. A datagram queued before the socket asked for
            // the message (an inherited socket) has no local address worked out: unknown.
            Some(if to.is_multicast() || to.is_broadcast() {
                Destination::Group(IpAddr::V4(to))
            } else if local.is_unspecified() {
                Destination::Unknown
            } else if to == local {
                Destination::Local(IpAddr::V4(to))
            } else {
                Destination::Group(IpAddr::V4(to))
            })
        }
        ControlMessageOwned::Ipv6PacketInfo(info) => {
            let to = Ipv6Addr::from(info.ipi6_addr.s6_addr);
            if to.to_ipv4_mapped().is_some() {
                // An IPv4 client of a dual-stack socket: the IPv4 message beside this one says
                // whether it was a broadcast.
                return None;
            }
            Some(if to.is_multicast() {
                Destination::Group(IpAddr::V6(to))
            } else {
                Destination::Local(IpAddr::V6(to))
            })
        }
        _ => None,
    }
}

/// The control message that makes a reply leave from `from`, kept for the send it goes with.
pub(super) enum Source {
    V4(libc::in_pktinfo),
    V6(libc::in6_pktinfo),
}

impl Source {
    pub(super) fn of(from: IpAddr) -> Self {
        match from {
            IpAddr::V4(v4) => Source::V4(libc::in_pktinfo {
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(v4).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            }),
            IpAddr::V6(v6) => Source::V6(libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                ipi6_ifindex: 0,
            }),
        }
    }

    /// Room for exactly this message: nix's `sendmmsg` hands the kernel all the room it was
    /// given, and the kernel reads room left over as a malformed message (EINVAL).
    pub(super) fn space(&self) -> Vec<u8> {
        match self {
            Source::V4(_) => nix::cmsg_space!(libc::in_pktinfo),
            Source::V6(_) => nix::cmsg_space!(libc::in6_pktinfo),
        }
    }

    fn message(&self) -> ControlMessage<'_> {
        match self {
            Source::V4(info) => ControlMessage::Ipv4PacketInfo(info),
            Source::V6(info) => ControlMessage::Ipv6PacketInfo(info),
        }
    }
}

/// The control messages a reply from `source` is sent with: none for the system's choice.
pub(super) fn source_messages(source: Option<&Source>) -> Vec<ControlMessage<'_>> {
    source.map(Source::message).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use nix::libc;
    use nix::sys::socket::ControlMessageOwned;

    use super::destination;
    use crate::batch::Destination;

    fn v4(to: &str, local: &str) -> Option<Destination> {
        let addr = |text: &str| libc::in_addr {
            s_addr: u32::from(text.parse::<std::net::Ipv4Addr>().expect("IPv4")).to_be(),
        };
        destination(ControlMessageOwned::Ipv4PacketInfo(libc::in_pktinfo {
            ipi_ifindex: 1,
            ipi_spec_dst: addr(local),
            ipi_addr: addr(to),
        }))
    }

    fn v6(to: &str) -> Option<Destination> {
        let to: std::net::Ipv6Addr = to.parse().expect("IPv6");
        destination(ControlMessageOwned::Ipv6PacketInfo(libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: to.octets(),
            },
            ipi6_ifindex: 1,
        }))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn the_packet_info_tells_the_host_s_own_address_from_a_group() {
        assert_eq!(
            v4("10.0.0.2", "10.0.0.2"),
            Some(Destination::Local(ip("10.0.0.2")))
        );
        assert_eq!(
            v4("10.0.0.255", "10.0.0.1"),
            Some(Destination::Group(ip("10.0.0.255")))
        );
        assert_eq!(
            v4("127.255.255.255", "127.0.0.1"),
            Some(Destination::Group(ip("127.255.255.255")))
        );
        assert_eq!(
            v4("255.255.255.255", "10.0.0.1"),
            Some(Destination::Group(ip("255.255.255.255")))
        );
        assert_eq!(
            v4("224.0.0.1", "10.0.0.1"),
            Some(Destination::Group(ip("224.0.0.1")))
        );
        // Queued before the socket asked for the message: the local address was not worked out.
        assert_eq!(v4("127.0.0.1", "0.0.0.0"), Some(Destination::Unknown));
        assert_eq!(v6("fd00::2"), Some(Destination::Local(ip("fd00::2"))));
        assert_eq!(v6("ff02::1"), Some(Destination::Group(ip("ff02::1"))));
        assert_eq!(
            v6("::ffff:127.0.0.1"),
            None,
            "the IPv4 message beside it says"
        );
    }
}

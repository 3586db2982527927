//! The batching system calls on Linux: `recvmmsg`, `sendmmsg`, and `sendmsg` with
//! `UDP_SEGMENT`; and each datagram's destination, by `IP_PKTINFO` and `IPV6_PKTINFO`.
//!
//! A socket bound to every address hears datagrams sent to any of the host's addresses, and
//! to its broadcast and multicast ones. The packet-info control message says which, as
//! quinn-udp reads it: for IPv4, the kernel gives the header's destination (`ipi_addr`) and
//! the local address it would answer from (`ipi_spec_dst`), which are the same exactly when
//! the destination is one of the host's own unicast addresses; for IPv6, the destination,
//! whose multicast prefix says the rest (IPv6 has no broadcast). A reply then leaves from that
//! destination, with the same control message, so that it comes from the address its client
//! sent to.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::libc;
use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, MultiHeaders, SockaddrStorage, getsockname,
    getsockopt, recvmmsg, sendmmsg, sendmsg, setsockopt, sockopt,
};

use super::{Destination, RecvMeta, Transmit};

/// How a receive treats an empty queue.
pub(crate) type RecvFlags = MsgFlags;

/// A UDP socket, as the batching calls see it.
pub(crate) trait Socket: AsFd {}

impl<T: AsFd> Socket for T {}

/// Receive what is queued, without waiting.
pub(crate) const NO_WAIT: MsgFlags = MsgFlags::MSG_DONTWAIT;

/// On a blocking socket, wait for a first datagram, then take only what is queued.
pub(crate) const FIRST_WAITS: MsgFlags = MsgFlags::MSG_WAITFORONE;

/// Asks the kernel for each datagram's destination, where it can be other than the socket's
/// own address: on a socket bound to every address (`::`, `0.0.0.0`). One bound to a single
/// address hears only datagrams sent to it, and replies from it, so it pays nothing: the
/// control messages cost an allocation and a copy each way (docs/BENCHMARKS.md). An IPv4
/// socket takes `IP_PKTINFO`; a dual-stack one both, since its IPv4 clients' datagrams come
/// with the IPv4 message. Whether they were asked for.
pub(super) fn learn_destinations(socket: &impl Socket) -> bool {
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
fn control_space() -> Vec<u8> {
    nix::cmsg_space!(libc::in_pktinfo, libc::in6_pktinfo)
}

/// One `recvmmsg`: fills `slots` from the front, recording each datagram in `got`.
pub(super) fn recv(
    socket: &impl Socket,
    slots: &mut [Box<[u8]>],
    got: &mut Vec<RecvMeta>,
    flags: MsgFlags,
    destinations: bool,
) -> io::Result<()> {
    let control = destinations.then(control_space);
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slots.len(), control);
    let mut buffers: Vec<[IoSliceMut<'_>; 1]> = slots
        .iter_mut()
        .map(|slot| [IoSliceMut::new(slot)])
        .collect();
    let received = recvmmsg(
        socket.as_fd().as_raw_fd(),
        &mut headers,
        buffers.iter_mut(),
        flags,
        None,
    )?;
    for (slot, message) in received.enumerate() {
        // Without a source there is no one to answer; its slot stays unused. (A socket shut
        // down for reading returns one such empty message.)
        if let Some(from) = message.address.as_ref().and_then(to_std) {
            let to = destinations
                .then(|| message.cmsgs().ok()?.find_map(destination))
                .flatten()
                .unwrap_or(Destination::Unknown);
            got.push(RecvMeta {
                slot,
                len: message.bytes,
                from,
                to,
            });
        }
    }
    Ok(())
}

/// The destination a packet-info control message gives, if `message` is one.
fn destination(message: ControlMessageOwned) -> Option<Destination> {
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
enum Source {
    V4(libc::in_pktinfo),
    V6(libc::in6_pktinfo),
}

impl Source {
    fn of(from: IpAddr) -> Self {
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
    fn space(&self) -> Vec<u8> {
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
fn source_messages(source: Option<&Source>) -> Vec<ControlMessage<'_>> {
    source.map(Source::message).into_iter().collect()
}

/// The most datagrams one segmented send may make (the kernel's `UDP_MAX_SEGMENTS`, which
/// is 64 on older kernels).
const MAX_SEGMENTS: usize = 64;

/// The most bytes one segmented send may carry: a datagram's limit, less the headers.
const MAX_SEGMENTED: usize = 65_000;

/// The largest reply sent segmented: a segment must fit the path's MTU, and this one fits
/// Ethernet's over IPv4 and IPv6 alike. Larger replies go one by one, where the kernel may
/// fragment them.
const MAX_SEGMENT: usize = 1_452;

/// Whether the kernel offers UDP segmentation offload on `socket`.
pub(super) fn can_segment(socket: &impl Socket) -> bool {
    getsockopt(socket, sockopt::UdpGsoSegment).is_ok()
}

/// Sends the first of `replies`, with those after it when they can go in the same call;
/// how many were sent. `segmentation` is turned off for good if the device cannot do it.
pub(super) fn send(
    socket: &impl Socket,
    replies: &[Transmit],
    segmentation: &mut bool,
) -> io::Result<usize> {
    // One `sendmmsg` gives every message the same control messages: a call sends replies
    // from one source address.
    let replies = &replies[..same_source(replies)];
    if !*segmentation {
        return send_each(socket, replies);
    }
    let run = segmentable(replies);
    if run < 2 {
        // Single replies up to where a run of segmentable ones starts.
        let singles = (1..replies.len())
            .find(|&at| segmentable(&replies[at..]) >= 2)
            .unwrap_or(replies.len());
        return send_each(socket, &replies[..singles]);
    }
    match send_segmented(socket, &replies[..run]) {
        Ok(()) => Ok(run),
        // EIO: the device cannot segment; EINVAL: the segment is larger than the path's
        // MTU. Either way the replies still go, one by one.
        Err(error) if error.raw_os_error() == Some(Errno::EIO as i32) => {
            *segmentation = false;
            send_each(socket, &replies[..run])
        }
        Err(error) if error.raw_os_error() == Some(Errno::EINVAL as i32) => {
            send_each(socket, &replies[..run])
        }
        Err(error) => Err(error),
    }
}

/// How many replies at the start of `replies` leave from the same address.
fn same_source(replies: &[Transmit]) -> usize {
    let first = replies.first().map(|transmit| transmit.from);
    replies
        .iter()
        .take_while(|transmit| Some(transmit.from) == first)
        .count()
}

/// How many replies at the start of `replies` can leave as one segmented send: to one
/// address, each as long as the first, but for a shorter last one. (They all leave from one
/// address: [`send`] hands over only such runs.)
pub(super) fn segmentable(replies: &[Transmit]) -> usize {
    let Some(Transmit {
        to, payload: first, ..
    }) = replies.first()
    else {
        return 0;
    };
    let size = first.len();
    if size == 0 || size > MAX_SEGMENT {
        return 0;
    }
    let mut count = 0;
    for Transmit {
        to: next_to,
        payload: bytes,
        ..
    } in replies.iter().take(MAX_SEGMENTS.min(MAX_SEGMENTED / size))
    {
        if next_to != to || bytes.len() > size || bytes.is_empty() {
            break;
        }
        count += 1;
        if bytes.len() < size {
            break; // Only the last segment may be shorter.
        }
    }
    count
}

/// One `sendmsg` of `replies`, all to one address, cut by the kernel into datagrams of the
/// first one's size.
fn send_segmented(socket: &impl Socket, replies: &[Transmit]) -> io::Result<()> {
    let Some(Transmit {
        to,
        from,
        payload: first,
    }) = replies.first()
    else {
        return Ok(());
    };
    let size = u16::try_from(first.len()).map_err(|_| io::Error::from(Errno::EINVAL))?;
    let payloads: Vec<IoSlice<'_>> = replies
        .iter()
        .map(|transmit| IoSlice::new(&transmit.payload))
        .collect();
    let source = from.map(Source::of);
    let mut messages = source_messages(source.as_ref());
    messages.push(ControlMessage::UdpGsoSegments(&size));
    sendmsg(
        socket.as_fd().as_raw_fd(),
        &payloads,
        &messages,
        MsgFlags::empty(),
        Some(&SockaddrStorage::from(*to)),
    )?;
    Ok(())
}

/// One `sendmmsg` of as many of `replies` as fit in a batch; how many were sent.
fn send_each(socket: &impl Socket, replies: &[Transmit]) -> io::Result<usize> {
    let replies = &replies[..replies.len().min(super::BATCH)];
    let source = replies.first().and_then(|first| first.from).map(Source::of);
    let space = source.as_ref().map(Source::space);
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(replies.len(), space);
    let payloads: Vec<[IoSlice<'_>; 1]> = replies
        .iter()
        .map(|transmit| [IoSlice::new(&transmit.payload)])
        .collect();
    let addrs: Vec<Option<SockaddrStorage>> = replies
        .iter()
        .map(|transmit| Some(SockaddrStorage::from(transmit.to)))
        .collect();
    let messages = source_messages(source.as_ref());
    let sent = sendmmsg(
        socket.as_fd().as_raw_fd(),
        &mut headers,
        &payloads,
        addrs,
        &messages,
        MsgFlags::empty(),
    )?;
    Ok(sent.count())
}

fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use nix::libc;
    use nix::sys::socket::ControlMessageOwned;

    use super::super::{Destination, Transmit};
    use super::{destination, segmentable};

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

    fn reply(to: &str, len: usize) -> Transmit {
        Transmit {
            to: to.parse().expect("a literal address"),
            from: None,
            payload: vec![b'x'; len],
        }
    }

    const A: &str = "127.0.0.1:1000";
    const B: &str = "[::1]:1000";

    #[test]
    fn a_run_is_one_client_one_size_and_a_shorter_last() {
        let replies = [reply(A, 4), reply(A, 4), reply(A, 2), reply(A, 2)];
        assert_eq!(segmentable(&replies), 3);
        let replies = [reply(A, 4), reply(A, 4), reply(A, 5)];
        assert_eq!(segmentable(&replies), 2);
        let replies = [reply(A, 4), reply(A, 4), reply(B, 4)];
        assert_eq!(segmentable(&replies), 2);
        assert_eq!(segmentable(&[reply(A, 4)]), 1);
        assert_eq!(segmentable(&[]), 0);
    }

    #[test]
    fn empty_and_large_replies_are_not_segmented() {
        assert_eq!(segmentable(&[reply(A, 0), reply(A, 0)]), 0);
        assert_eq!(segmentable(&[reply(A, 4), reply(A, 0)]), 1);
        assert_eq!(segmentable(&[reply(A, 1_453), reply(A, 1_453)]), 0);
        assert_eq!(segmentable(&[reply(A, 1_452), reply(A, 1_452)]), 2);
    }

    #[test]
    fn a_run_stops_at_the_kernels_limits() {
        let many: Vec<Transmit> = (0..100).map(|_| reply(A, 10)).collect();
        assert_eq!(segmentable(&many), 64);
        let big: Vec<Transmit> = (0..60).map(|_| reply(A, 1_400)).collect();
        assert_eq!(segmentable(&big), 65_000 / 1_400);
    }
}

//! The batching system calls on Linux: `recvmmsg`, `sendmmsg`, and `sendmsg` with
//! `UDP_SEGMENT`; each datagram's destination comes from `pktinfo.rs`.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, getsockopt, recvmmsg, sendmmsg,
    sendmsg, sockopt,
};

use super::{Destination, RecvMeta, Transmit};

#[path = "pktinfo.rs"]
mod pktinfo;

pub(super) use pktinfo::learn_destinations;
use pktinfo::{Source, control_space, destination, source_messages};

/// How a receive treats an empty queue.
pub(crate) type RecvFlags = MsgFlags;

/// A UDP socket, as the batching calls see it.
pub(crate) trait Socket: AsFd {}

impl<T: AsFd> Socket for T {}

/// Receive what is queued, without waiting.
pub(crate) const NO_WAIT: MsgFlags = MsgFlags::MSG_DONTWAIT;

/// On a blocking socket, wait for a first datagram, then take only what is queued.
pub(crate) const FIRST_WAITS: MsgFlags = MsgFlags::MSG_WAITFORONE;

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
    let most = crate::gso::per_send(size);
    if most == 0 {
        return 0;
    }
    let mut count = 0;
    for Transmit {
        to: next_to,
        payload: bytes,
        ..
    } in replies.iter().take(most)
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
        ..
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
    use super::super::Transmit;
    use super::segmentable;

    fn reply(to: &str, len: usize) -> Transmit {
        Transmit {
            to: to.parse().expect("a literal address"),
            from: None,
            payload: vec![b'x'; len],
            reply: 0,
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

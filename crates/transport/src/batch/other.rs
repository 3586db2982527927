//! Systems without `recvmmsg`: one datagram per system call.

use std::io;
use std::net::SocketAddr;

use super::{Destination, RecvMeta, Transmit};

/// Flags have no meaning here: the one receive waits as its socket does.
pub(crate) type RecvFlags = ();

/// Receive what is queued, without waiting.
pub(crate) const NO_WAIT: RecvFlags = ();

/// On a blocking socket, wait for a datagram.
pub(crate) const FIRST_WAITS: RecvFlags = ();

/// A UDP socket, as the fallback calls see it.
pub(crate) trait Socket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)>;
    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
}

impl Socket for std::net::UdpSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        std::net::UdpSocket::recv_from(self, buf)
    }

    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        std::net::UdpSocket::send_to(self, buf, to)
    }
}

impl Socket for tokio::net::UdpSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.try_recv_from(buf)
    }

    fn send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.try_send_to(buf, to)
    }
}

pub(super) fn recv(
    socket: &impl Socket,
    slots: &mut [Box<[u8]>],
    got: &mut Vec<RecvMeta>,
    _flags: RecvFlags,
    _destinations: bool,
) -> io::Result<()> {
    let (len, from) = socket.recv_from(&mut slots[0])?;
    got.push(RecvMeta {
        slot: 0,
        len,
        from,
        to: Destination::Unknown,
    });
    Ok(())
}

/// Without `IP_PKTINFO` the destination is not learnt: replies leave from the system's choice.
pub(super) fn learn_destinations(_: &impl Socket) -> bool {
    false
}

pub(super) fn can_segment(_: &impl Socket) -> bool {
    false
}

pub(super) fn send(
    socket: &impl Socket,
    replies: &[Transmit],
    _segmentation: &mut bool,
) -> io::Result<usize> {
    let transmit = &replies[0];
    socket.send_to(&transmit.payload, transmit.to).map(|_| 1)
}

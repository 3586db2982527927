//! Datagrams many to a system call, on a connected UDP socket: a window's requests leave in one
//! segmented send (UDP GSO: the kernel cuts one buffer into datagrams of one size), and replies
//! come in by `recvmmsg`, up to [`BATCH`] a call, as the server takes its requests. Elsewhere,
//! or where the kernel cannot segment, one datagram a call.

use std::io;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use upcase_transport::gso;

/// Most datagrams moved by one system call: as many as one segmented send makes.
pub(crate) const BATCH: usize = gso::MAX_SEGMENTS;

/// Sends requests of one size, many to a call where it can.
#[derive(Debug)]
pub(crate) struct Sender {
    size: usize,
    /// Requests one call may carry: 1 when the socket cannot segment.
    per_call: usize,
}

impl Sender {
    /// Sets `socket` up to cut sends into datagrams of `size` bytes, where the kernel can.
    pub(crate) fn new(socket: &UdpSocket, size: usize) -> Self {
        let per_call = if gso::segment_sends(socket, size) {
            gso::per_send(size)
        } else {
            1
        };
        Self { size, per_call }
    }

    /// Sends the requests in `queued` (each `size` bytes, back to back) that the socket takes
    /// now; how many it took. A full socket buffer takes none.
    pub(crate) fn send(&self, socket: &UdpSocket, queued: &[u8]) -> io::Result<usize> {
        let mut sent = 0;
        while sent < queued.len() {
            let end = queued.len().min(sent + self.per_call * self.size);
            match socket.try_send(&queued[sent..end]) {
                Ok(_) => sent = end,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) => return Err(error),
            }
        }
        Ok(sent / self.size)
    }
}

/// Receives replies, many to a call where it can.
pub(crate) struct Receiver {
    /// [`BATCH`] slots of `slot` bytes each.
    buffer: Vec<u8>,
    slot: usize,
    /// Length of each datagram of the last receive.
    lengths: Vec<usize>,
    /// The kernel's headers for a receive, made once.
    headers: sys::Headers,
}

impl Receiver {
    /// Slots one byte larger than a reply should be, so that a longer one is seen as such.
    pub(crate) fn new(size: usize) -> Self {
        let slot = size + 1;
        Self {
            buffer: vec![0; slot * BATCH],
            slot,
            lengths: Vec::with_capacity(BATCH),
            headers: sys::headers(),
        }
    }

    /// Takes the replies queued on `socket`, without waiting; none when there are none.
    pub(crate) fn receive(&mut self, socket: &UdpSocket) -> io::Result<()> {
        self.lengths.clear();
        let Self {
            buffer,
            slot,
            lengths,
            headers,
        } = self;
        // A receive that leaves slots empty took all there was: say so to tokio with it, so
        // that the next receive waits for epoll's word instead of first failing in the kernel.
        let receive = || {
            sys::receive(socket, headers, buffer, *slot, lengths)?;
            if lengths.len() < BATCH {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            Ok(())
        };
        match socket.try_io(Interest::READABLE, receive) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(()),
            outcome => outcome,
        }
    }

    /// The replies of the last receive.
    pub(crate) fn replies(&self) -> impl Iterator<Item = &[u8]> {
        self.lengths
            .iter()
            .enumerate()
            .map(|(at, &len)| &self.buffer[at * self.slot..at * self.slot + len])
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io::{self, IoSliceMut};
    use std::os::fd::{AsFd, AsRawFd};

    use nix::sys::socket::{MsgFlags, MultiHeaders, recvmmsg};
    use tokio::net::UdpSocket;

    use super::BATCH;

    pub(super) type Headers = MultiHeaders<()>;

    pub(super) fn headers() -> Headers {
        MultiHeaders::preallocate(BATCH, None)
    }

    /// One `recvmmsg` into the slots of `buffer`.
    pub(super) fn receive(
        socket: &UdpSocket,
        headers: &mut Headers,
        buffer: &mut [u8],
        slot: usize,
        lengths: &mut Vec<usize>,
    ) -> io::Result<()> {
        let mut slots = buffer.chunks_exact_mut(slot);
        let mut slices: [[IoSliceMut<'_>; 1]; BATCH] =
            std::array::from_fn(|_| [IoSliceMut::new(slots.next().unwrap_or_default())]);
        let received = recvmmsg(
            socket.as_fd().as_raw_fd(),
            headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )?;
        lengths.extend(received.map(|message| message.bytes));
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;

    use tokio::net::UdpSocket;

    pub(super) type Headers = ();

    pub(super) fn headers() {}

    pub(super) fn receive(
        socket: &UdpSocket,
        _: &mut Headers,
        buffer: &mut [u8],
        slot: usize,
        lengths: &mut Vec<usize>,
    ) -> io::Result<()> {
        lengths.push(socket.try_recv(&mut buffer[..slot])?);
        Ok(())
    }
}

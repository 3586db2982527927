//! Datagrams in batches. Under load, the cost of a UDP server is its system calls, so on Linux
//! one `recvmmsg` takes up to [`BATCH`] datagrams and one `sendmmsg` sends as many replies, as
//! quinn-udp and the kernel's own benchmarks do. Elsewhere, one datagram per call.
//!
//! Replies wait in an [`Outbox`] only while more datagrams of the same batch are still to be
//! served: the reply to the last one sends them all. So a reply never waits for the next
//! request, and a lone ping-pong client pays no extra latency.
//!
//! Where the kernel offers UDP segmentation offload (GSO, Linux 4.18 and later), the replies of
//! a batch that go to one client with one size leave in a single `sendmsg`: the kernel walks
//! its stack once for them all and cuts them into datagrams at the end, as quinn-udp does.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Most datagrams moved by one system call.
pub(crate) const BATCH: usize = 64;

/// A receive buffer holds the largest datagram there can be, so that none is ever cut short.
/// Pages of a slot are touched only as far as datagrams fill them.
const SLOT: usize = 65_536;

/// The fewest slots a receive offers; see [`next_offer`].
const MIN_OFFER: usize = 8;

/// One reply: where it goes and what it says.
pub(crate) type Reply = (SocketAddr, Vec<u8>);

/// Datagrams received in one call, handed out one at a time.
#[derive(Debug)]
pub(crate) struct Received {
    /// One buffer per datagram of a batch.
    slots: Vec<Box<[u8]>>,
    /// Slot, length and source of each datagram of the current batch.
    got: Vec<(usize, usize, SocketAddr)>,
    /// The next datagram of `got` to hand out.
    next: usize,
    /// How many slots the next receive offers; see [`next_offer`].
    offer: usize,
}

impl Received {
    pub(crate) fn new() -> Self {
        let slots = if cfg!(target_os = "linux") { BATCH } else { 1 };
        Self {
            slots: (0..slots)
                .map(|_| vec![0; SLOT].into_boxed_slice())
                .collect(),
            got: Vec::with_capacity(slots),
            next: 0,
            offer: slots,
        }
    }

    /// How many datagrams of the current batch are still to be handed out.
    pub(crate) fn left(&self) -> usize {
        self.got.len() - self.next
    }

    /// The next datagram of the current batch, if any is left.
    pub(crate) fn pop(&mut self) -> Option<(&[u8], SocketAddr)> {
        let &(slot, len, from) = self.got.get(self.next)?;
        self.next += 1;
        Some((&self.slots[slot][..len], from))
    }

    /// Waits for at least one datagram and takes as many as are queued, up to a batch.
    pub(crate) async fn fill(&mut self, socket: &UdpSocket) -> io::Result<()> {
        self.got.clear();
        self.next = 0;
        let Self {
            slots, got, offer, ..
        } = self;
        socket
            .async_io(Interest::READABLE, || {
                sys::recv(socket, &mut slots[..*offer], got, sys::NO_WAIT)
            })
            .await?;
        *offer = next_offer(got.len(), slots.len());
        if got.len() == 1 && slots.len() > 1 {
            // A lone datagram: the queue is empty, and the client is likely waiting for this
            // reply before it sends again. Forget the readiness now, so that the next wait goes
            // to epoll rather than through a receive that would block. (Under load, a receive
            // finds new datagrams often enough to be worth trying.) A datagram that came
            // meanwhile raises a new event, which this does not clear.
            let _ = socket.try_io(Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
        Ok(())
    }

    /// [`fill`](Self::fill) for a blocking socket: sleeps in the kernel until a datagram comes,
    /// then takes it with those queued behind it. Returns with none when the socket was shut
    /// down for reading.
    #[cfg(target_os = "linux")]
    pub(crate) fn fill_blocking(&mut self, socket: &socket2::Socket) -> io::Result<()> {
        self.got.clear();
        self.next = 0;
        let offered = &mut self.slots[..self.offer];
        sys::recv(socket, offered, &mut self.got, sys::FIRST_WAITS)?;
        self.offer = next_offer(self.got.len(), self.slots.len());
        Ok(())
    }
}

/// How many slots to offer the receive after one that took `took` datagrams, with `most`
/// slots in all.
///
/// A receive costs a header made and filled in for each slot it offers, whether a datagram
/// comes to it or not; under a load the server keeps up with, a receive finds two or three
/// datagrams queued, and 64 headers cost more than the receive itself. So a receive offers
/// twice what the last one took, at least [`MIN_OFFER`]: after one that filled all it offered,
/// that is twice its offer. A burst larger than the offer costs a few more receives while the
/// offer grows back.
fn next_offer(took: usize, most: usize) -> usize {
    (took * 2).max(MIN_OFFER).min(most)
}

/// Puts each client's replies side by side, so that they can leave in one segmented send. The
/// sort is stable: a client's replies keep their order, and different clients' replies have
/// none to keep.
fn group_by_client(replies: &mut [Reply], segmentation: &AtomicBool) {
    if segmentation.load(Ordering::Relaxed) {
        replies.sort_by_key(|(to, _)| *to);
    }
}

/// Whether replies on `socket` may leave as one segmented send (GSO), as in [`Outbox`].
#[cfg(target_os = "linux")]
pub(crate) fn segmentation(socket: &socket2::Socket) -> AtomicBool {
    AtomicBool::new(sys::can_segment(socket))
}

/// Sends all of `replies` on a blocking socket, waiting for room in it when there is none, and
/// empties `replies`.
///
/// # Errors
/// The first error of a reply that could not be sent; the others were sent.
#[cfg(target_os = "linux")]
pub(crate) fn send_all(
    socket: &socket2::Socket,
    replies: &mut Vec<Reply>,
    segmentation: &AtomicBool,
    failed: &mut Vec<SocketAddr>,
) -> io::Result<()> {
    group_by_client(replies, segmentation);
    let mut first_error = None;
    let mut sent = 0;
    while sent < replies.len() {
        match sys::send(socket, &replies[sent..], segmentation) {
            Ok(n) => sent += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // As in `Outbox::flush`: skip the reply that failed, send the others.
            Err(error) => {
                failed.push(replies[sent].0);
                sent += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    replies.clear();
    first_error.map_or(Ok(()), Err)
}

/// Replies waiting for the rest of their batch to be served.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// The replies.
    replies: Mutex<Vec<Reply>>,
    /// Datagrams of the current batch not yet handed out: while there are some, replies wait.
    pending: AtomicUsize,
    /// Whether replies to one client may leave as one segmented send (GSO): the kernel has it,
    /// and no send has yet shown that the network device lacks it.
    segmentation: AtomicBool,
}

impl Outbox {
    /// An empty outbox for `socket`.
    pub(crate) fn new(socket: &UdpSocket) -> Self {
        Self {
            replies: Mutex::default(),
            pending: AtomicUsize::new(0),
            segmentation: AtomicBool::new(sys::can_segment(socket)),
        }
    }

    /// Records how many datagrams of the batch are still to be handed out.
    pub(crate) fn set_pending(&self, n: usize) {
        self.pending.store(n, Ordering::Release);
    }

    /// Queues `reply`; sends the queue when its batch has been handed out in full.
    ///
    /// # Errors
    /// The first error of a reply that could not be sent; the others were sent.
    pub(crate) async fn push(&self, socket: &UdpSocket, reply: Reply) -> io::Result<()> {
        self.lock().push(reply);
        if self.pending.load(Ordering::Acquire) > 0 {
            return Ok(());
        }
        self.flush(socket).await
    }

    /// Sends every queued reply.
    ///
    /// # Errors
    /// As for [`push`](Self::push).
    pub(crate) async fn flush(&self, socket: &UdpSocket) -> io::Result<()> {
        let mut replies = std::mem::take(&mut *self.lock());
        let segmentation = &self.segmentation;
        group_by_client(&mut replies, segmentation);
        let mut first_error = None;
        let mut sent = 0;
        while sent < replies.len() {
            let rest = &replies[sent..];
            match socket
                .async_io(Interest::WRITABLE, || sys::send(socket, rest, segmentation))
                .await
            {
                Ok(n) => sent += n,
                // The first reply of the call failed (a bad address, a firewall): skip it and
                // go on with the others, which concern other clients.
                Err(error) => {
                    sent += 1;
                    first_error.get_or_insert(error);
                }
            }
        }
        replies.clear();
        self.give_back(replies);
        first_error.map_or(Ok(()), Err)
    }

    /// Sends what can go without waiting, for when the socket is about to close.
    pub(crate) fn flush_now(&self, socket: &UdpSocket) {
        let replies = std::mem::take(&mut *self.lock());
        let mut sent = 0;
        while sent < replies.len() {
            let rest = &replies[sent..];
            match socket.try_io(Interest::WRITABLE, || {
                sys::send(socket, rest, &self.segmentation)
            }) {
                Ok(n) => sent += n,
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => sent += 1,
            }
        }
    }

    /// Keeps the queue's allocation for the next batch, unless another took its place.
    fn give_back(&self, replies: Vec<Reply>) {
        let mut queue = self.lock();
        if queue.is_empty() && queue.capacity() < replies.capacity() {
            *queue = replies;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Reply>> {
        // A panic while the lock was held left a whole Vec behind: its replies are still good.
        self.replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io::{self, IoSlice, IoSliceMut};
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::{AsFd, AsRawFd};

    use std::sync::atomic::{AtomicBool, Ordering};

    use nix::errno::Errno;
    use nix::sys::socket::{
        ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, getsockopt, recvmmsg, sendmmsg,
        sendmsg, sockopt,
    };

    use super::Reply;

    /// Receive what is queued, without waiting.
    pub(super) const NO_WAIT: MsgFlags = MsgFlags::MSG_DONTWAIT;

    /// On a blocking socket, wait for a first datagram, then take only what is queued.
    pub(super) const FIRST_WAITS: MsgFlags = MsgFlags::MSG_WAITFORONE;

    /// One `recvmmsg`: fills `slots` from the front, recording each datagram in `got`.
    pub(super) fn recv(
        socket: &impl AsFd,
        slots: &mut [Box<[u8]>],
        got: &mut Vec<(usize, usize, SocketAddr)>,
        flags: MsgFlags,
    ) -> io::Result<()> {
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(slots.len(), None);
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
                got.push((slot, message.bytes, from));
            }
        }
        Ok(())
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
    pub(super) fn can_segment(socket: &impl AsFd) -> bool {
        getsockopt(socket, sockopt::UdpGsoSegment).is_ok()
    }

    /// Sends the first of `replies`, with those after it when they can go in the same call;
    /// how many were sent. `segmentation` is turned off for good if the device cannot do it.
    pub(super) fn send(
        socket: &impl AsFd,
        replies: &[Reply],
        segmentation: &AtomicBool,
    ) -> io::Result<usize> {
        if !segmentation.load(Ordering::Relaxed) {
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
                segmentation.store(false, Ordering::Relaxed);
                send_each(socket, &replies[..run])
            }
            Err(error) if error.raw_os_error() == Some(Errno::EINVAL as i32) => {
                send_each(socket, &replies[..run])
            }
            Err(error) => Err(error),
        }
    }

    /// How many replies at the start of `replies` can leave as one segmented send: to one
    /// address, each as long as the first, but for a shorter last one.
    pub(super) fn segmentable(replies: &[Reply]) -> usize {
        let Some((to, first)) = replies.first() else {
            return 0;
        };
        let size = first.len();
        if size == 0 || size > MAX_SEGMENT {
            return 0;
        }
        let mut count = 0;
        for (next_to, bytes) in replies.iter().take(MAX_SEGMENTS.min(MAX_SEGMENTED / size)) {
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
    fn send_segmented(socket: &impl AsFd, replies: &[Reply]) -> io::Result<()> {
        let Some((to, first)) = replies.first() else {
            return Ok(());
        };
        let size = u16::try_from(first.len()).map_err(|_| io::Error::from(Errno::EINVAL))?;
        let payloads: Vec<IoSlice<'_>> = replies
            .iter()
            .map(|(_, bytes)| IoSlice::new(bytes))
            .collect();
        sendmsg(
            socket.as_fd().as_raw_fd(),
            &payloads,
            &[ControlMessage::UdpGsoSegments(&size)],
            MsgFlags::empty(),
            Some(&SockaddrStorage::from(*to)),
        )?;
        Ok(())
    }

    /// One `sendmmsg` of as many of `replies` as fit in a batch; how many were sent.
    fn send_each(socket: &impl AsFd, replies: &[Reply]) -> io::Result<usize> {
        let replies = &replies[..replies.len().min(super::BATCH)];
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(replies.len(), None);
        let payloads: Vec<[IoSlice<'_>; 1]> = replies
            .iter()
            .map(|(_, bytes)| [IoSlice::new(bytes)])
            .collect();
        let addrs: Vec<Option<SockaddrStorage>> = replies
            .iter()
            .map(|(to, _)| Some(SockaddrStorage::from(*to)))
            .collect();
        let none: [ControlMessage<'_>; 0] = [];
        let sent = sendmmsg(
            socket.as_fd().as_raw_fd(),
            &mut headers,
            &payloads,
            addrs,
            none,
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
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;
    use std::net::SocketAddr;
    use std::sync::atomic::AtomicBool;

    use tokio::net::UdpSocket;

    use super::Reply;

    /// Flags have no meaning here: the one receive never waits.
    pub(super) const NO_WAIT: () = ();

    pub(super) fn recv(
        socket: &UdpSocket,
        slots: &mut [Box<[u8]>],
        got: &mut Vec<(usize, usize, SocketAddr)>,
        _flags: (),
    ) -> io::Result<()> {
        let (len, from) = socket.try_recv_from(&mut slots[0])?;
        got.push((0, len, from));
        Ok(())
    }

    pub(super) fn can_segment(_: &UdpSocket) -> bool {
        false
    }

    pub(super) fn send(
        socket: &UdpSocket,
        replies: &[Reply],
        _segmentation: &AtomicBool,
    ) -> io::Result<usize> {
        let (to, bytes) = &replies[0];
        socket.try_send_to(bytes, *to).map(|_| 1)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::sys::segmentable;
    use super::{BATCH, Reply, next_offer};

    #[test]
    fn the_offer_follows_the_batches_within_its_bounds() {
        assert_eq!(next_offer(2, BATCH), 8, "the least");
        assert_eq!(next_offer(10, BATCH), 20, "twice what came");
        assert_eq!(next_offer(8, BATCH), 16, "a full offer of 8 doubles");
        assert_eq!(next_offer(40, BATCH), 64);
        assert_eq!(next_offer(BATCH, BATCH), BATCH, "at most all");
        assert_eq!(next_offer(0, BATCH), 8, "a receive shut down");
        assert_eq!(next_offer(1, 1), 1, "no batching");
    }

    fn reply(to: &str, len: usize) -> Reply {
        (to.parse().expect("a literal address"), vec![b'x'; len])
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
        let many: Vec<Reply> = (0..100).map(|_| reply(A, 10)).collect();
        assert_eq!(segmentable(&many), 64);
        let big: Vec<Reply> = (0..60).map(|_| reply(A, 1_400)).collect();
        assert_eq!(segmentable(&big), 65_000 / 1_400);
    }
}

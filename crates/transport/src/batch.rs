//! The synchronous core of a batching UDP server, shared by the socket served on a thread of
//! its own ([`BlockingUdp`](crate::BlockingUdp)) and the one served by the event loop
//! ([`UdpServer`](crate::UdpServer)): a [`Batch`] receives datagrams, has each answered, and
//! sends the replies, many to a system call.
//!
//! Under load, the cost of a UDP server is its system calls, so on Linux one `recvmmsg` takes
//! up to [`BATCH`] datagrams and one `sendmmsg` sends as many replies, as quinn-udp and the
//! kernel's own benchmarks do. Elsewhere, one datagram per call. The replies to a batch leave
//! once it has been answered in full, so a reply never waits for the next request, and a lone
//! ping-pong client pays no extra latency.
//!
//! Where the kernel offers UDP segmentation offload (GSO, Linux 4.18 and later), the replies of
//! a batch that go to one client with one size leave in a single `sendmsg`: the kernel walks
//! its stack once for them all and cuts them into datagrams at the end, as quinn-udp does.

use std::io;
use std::net::{IpAddr, SocketAddr};

use upcase_proto::max_datagram;

use crate::error::TransportError;

#[cfg(target_os = "linux")]
#[path = "batch/linux.rs"]
mod sys;
#[cfg(not(target_os = "linux"))]
#[path = "batch/other.rs"]
mod sys;

pub(crate) use sys::{FIRST_WAITS, NO_WAIT, RecvFlags, Socket};

/// Where a datagram was sent, as the system saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// One of this host's own unicast addresses: the reply goes from it, so that a client
    /// that sent to it (a connected socket, a stateful firewall, a NAT) takes the reply.
    Local(IpAddr),
    /// A broadcast or multicast address: every socket that heard it would answer.
    Group(IpAddr),
    /// Not learnt: the socket is bound to one address (which hears only datagrams sent to
    /// it), the system has no `IP_PKTINFO`, or the datagram was queued before the socket asked.
    Unknown,
}

/// One received datagram, as a server's closure sees it.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// Its source, where its reply goes.
    pub from: SocketAddr,
    /// Where it was sent.
    pub to: Destination,
    /// What it says.
    pub payload: &'a [u8],
}

/// A server's answer to one [`Datagram`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// These bytes go back to the datagram's source, from the address it was sent to.
    Reply(Vec<u8>),
    /// Nothing goes back.
    Silence,
}

/// A reply of a batch that did not leave: which one, for whom, and why. Every other reply of
/// the batch left (or waits for room in the socket, and leaves at the next batch), so a server
/// counts each reply by its place, without matching it up by address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsent {
    /// Its place among the batch's replies, counting from 0 in the order they were given.
    pub reply: usize,
    /// The client it was for.
    pub to: SocketAddr,
    /// Why it did not leave.
    pub why: Why,
}

/// Why a reply did not leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Larger than a datagram to its client can be: nothing was sent, since a reply cut short
    /// would be wrong.
    TooLarge {
        /// Its length.
        len: usize,
        /// The most a datagram to its client can hold.
        max: usize,
    },
    /// The system refused to send it (a broadcast address, a firewall); the batch's
    /// `BatchError::Send` holds the first such refusal's error.
    Refused,
}

/// Most datagrams moved by one system call.
pub(crate) const BATCH: usize = 64;

/// A receive buffer holds the largest datagram there can be, so that none is ever cut short.
/// Pages of a slot are touched only as far as datagrams fill them.
const SLOT: usize = 65_536;

/// The fewest slots a receive offers; see [`next_offer`].
const MIN_OFFER: usize = 8;

/// Where one received datagram is: quinn-udp's `RecvMeta`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvMeta {
    /// The slot it was received into.
    slot: usize,
    /// Its length.
    len: usize,
    /// Its source, where its reply goes.
    from: SocketAddr,
    /// Where it was sent.
    to: Destination,
}

/// One reply to send: quinn-udp's `Transmit`.
#[derive(Debug)]
pub(crate) struct Transmit {
    /// Where it goes.
    pub(crate) to: SocketAddr,
    /// The address it leaves from, the one its request was sent to; `None`: the system's
    /// choice.
    pub(crate) from: Option<IpAddr>,
    /// What it says.
    pub(crate) payload: Vec<u8>,
    /// Its place among the batch's replies, which names it if it does not leave.
    pub(crate) reply: usize,
}

/// One batch's datagrams, their replies, and what became of them.
#[derive(Debug)]
pub(crate) struct Batch {
    /// One buffer per datagram of a batch.
    slots: Vec<Box<[u8]>>,
    /// The datagrams of the current batch.
    received: Vec<RecvMeta>,
    /// How many slots the next receive offers; see [`next_offer`].
    offer: usize,
    /// The replies to the current batch.
    transmits: Vec<Transmit>,
    /// How many of `transmits` have been sent or given up on.
    sent: usize,
    /// How many replies this batch was given.
    replies: usize,
    /// Those that did not leave.
    unsent: Vec<Unsent>,
    /// The first refusal among them.
    refusal: Option<io::Error>,
    /// Whether replies to one client may leave as one segmented send (GSO): the kernel has it,
    /// and no send has yet shown that the network device lacks it.
    segmentation: bool,
    /// Whether each datagram's destination is learnt: on a socket bound to every address.
    destinations: bool,
}

impl Batch {
    /// An empty batch for `socket`.
    pub(crate) fn new(socket: &impl Socket) -> Self {
        let destinations = sys::learn_destinations(socket);
        let slots = if cfg!(target_os = "linux") { BATCH } else { 1 };
        Self {
            slots: (0..slots)
                .map(|_| vec![0; SLOT].into_boxed_slice())
                .collect(),
            received: Vec::with_capacity(slots),
            offer: slots,
            transmits: Vec::with_capacity(slots),
            sent: 0,
            replies: 0,
            unsent: Vec::new(),
            refusal: None,
            segmentation: sys::can_segment(socket),
            destinations,
        }
    }

    /// One receive: takes what is queued on `socket`, up to a batch, replacing the last batch.
    /// With [`FIRST_WAITS`] on a blocking socket, sleeps until a datagram comes; with
    /// [`NO_WAIT`], fails with `WouldBlock` when none is queued. Returns how many came (none
    /// from a socket shut down for reading).
    pub(crate) fn receive(&mut self, socket: &impl Socket, flags: RecvFlags) -> io::Result<usize> {
        self.received.clear();
        self.transmits.clear();
        self.sent = 0;
        self.replies = 0;
        self.unsent.clear();
        self.refusal = None;
        let offered = &mut self.slots[..self.offer];
        sys::recv(
            socket,
            offered,
            &mut self.received,
            flags,
            self.destinations,
        )?;
        self.offer = next_offer(self.received.len(), self.slots.len());
        Ok(self.received.len())
    }

    /// Asks `answer` for each datagram's [`Answer`]; a reply leaves from the address the
    /// datagram was sent to. A reply larger than a datagram to its client can be is not sent:
    /// it is [`Unsent`], and the batch's refusal is a [`TransportError::ReplyTooLarge`].
    pub(crate) fn answer(&mut self, mut answer: impl FnMut(Datagram<'_>) -> Answer) {
        for meta in &self.received {
            let datagram = Datagram {
                from: meta.from,
                to: meta.to,
                payload: &self.slots[meta.slot][..meta.len],
            };
            let Answer::Reply(payload) = answer(datagram) else {
                continue;
            };
            let (len, max) = (payload.len(), max_datagram(meta.from));
            let reply = self.replies;
            self.replies += 1;
            if len > max {
                let too_large = TransportError::ReplyTooLarge {
                    peer: meta.from,
                    len,
                    max,
                };
                self.refusal
                    .get_or_insert_with(|| io::Error::new(io::ErrorKind::InvalidInput, too_large));
                self.unsent.push(Unsent {
                    reply,
                    to: meta.from,
                    why: Why::TooLarge { len, max },
                });
                continue;
            }
            self.transmits.push(Transmit {
                to: meta.from,
                from: match meta.to {
                    Destination::Local(ip) => Some(ip),
                    Destination::Group(_) | Destination::Unknown => None,
                },
                payload,
                reply,
            });
        }
        if self.segmentation {
            // Each client's replies side by side, so that they can leave in one segmented
            // send. The sort is stable: a client's replies keep their order, and different
            // clients' replies have none to keep.
            // (A client's replies from two of this host's addresses stay side by side too; the
            // send cuts a run where the source changes.)
            self.transmits.sort_by_key(|transmit| transmit.to);
        }
    }

    /// Sends the replies not yet sent. A reply the system refuses (a broadcast address, a
    /// firewall) concerns its client alone: it is set aside, and the others go.
    ///
    /// # Errors
    /// `WouldBlock` when the socket has no room: call again once it is writable.
    pub(crate) fn send(&mut self, socket: &impl Socket) -> io::Result<()> {
        while self.sent < self.transmits.len() {
            let rest = &self.transmits[self.sent..];
            match sys::send(socket, rest, &mut self.segmentation) {
                Ok(n) => self.sent += n,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Err(error),
                Err(error) => {
                    self.unsent.push(refused(&rest[0]));
                    self.sent += 1;
                    self.refusal.get_or_insert(error);
                }
            }
        }
        Ok(())
    }

    /// Counts the replies not yet sent as refused, with `error`.
    pub(crate) fn give_up(&mut self, error: io::Error) {
        let rest = &self.transmits[self.sent..];
        self.unsent.extend(rest.iter().map(refused));
        if self.sent < self.transmits.len() {
            self.refusal.get_or_insert(error);
        }
        self.sent = self.transmits.len();
    }

    /// Whether replies of the batch wait to be sent.
    pub(crate) fn waiting(&self) -> bool {
        self.sent < self.transmits.len()
    }

    /// The first refusal of the batch's replies, once they have been sent.
    pub(crate) fn take_refusal(&mut self) -> Option<io::Error> {
        self.refusal.take()
    }

    /// The replies of the batch that did not leave.
    pub(crate) fn unsent(&self) -> &[Unsent] {
        &self.unsent
    }
}

/// `transmit`, refused by the system.
fn refused(transmit: &Transmit) -> Unsent {
    Unsent {
        reply: transmit.reply,
        to: transmit.to,
        why: Why::Refused,
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

#[cfg(test)]
mod tests {
    use super::{BATCH, next_offer};

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
}

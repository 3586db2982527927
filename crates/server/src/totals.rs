//! What the server did, in numbers: [`Event`]s, [`Totals`] of them, and the [`Traffic`] of
//! each transport ([`Via`]).

use upcase_transport::{HandshakeFailure, Quic, Tcp, Tls, Transport, Udp};

/// Something that happened to a peer, counted in [`Totals`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Served to the end: a connection closed after its replies, a datagram whose reply was
    /// handed to the socket.
    Served,
    /// Refused by `--allow` / `--deny`.
    Denied,
    /// Refused: its source had `--max-connections-per-source` connections open already.
    SourceLimit,
    /// Refused: its source sent more than `--max-datagrams-per-source` datagrams in a second.
    RateLimit,
    /// Not answered: its source port or address could make the reply hit a third party.
    Reflection,
    /// Not answered: its source sent back, at once and many times in a row, exactly the reply it
    /// was just sent, as another echo-like service caught in a loop with this one does.
    EchoLoop,
    /// Not answered: the reply would not fit in one datagram.
    ReplyTooLarge,
    /// Not answered: the reply would be more than three times its request.
    Amplification,
    /// Ended: a line longer than `--max-line`, for a transform that answers lines.
    LineTooLong,
    /// Ended: nothing read or written for `--idle-timeout`.
    IdleTimeout,
    /// Ended by the network: reset, or another socket error. For datagrams, a reply that the
    /// system refused to send (not counted as served).
    Failed,
    /// Ended at shutdown, when the drain timeout ran out.
    Cut,
    /// Refused: `--proxy-protocol` is on and the connection did not start with a valid header.
    ProxyHeader,
    /// Refused: `--proxy-protocol` is on and the connection is not from a balancer named by
    /// `--proxy-from`, so a header from it would not be believed.
    ProxyUntrusted,
    /// Not answered: the datagram was sent to a broadcast or multicast address, not to one of
    /// the host's own, so every server that heard it would answer.
    NotUnicast,
}

/// How many kinds of [`Event`] there are.
pub const EVENTS: usize = 15;

impl Event {
    /// Every event, in the order of [`Totals::counts`].
    pub const ALL: [Event; EVENTS] = [
        Event::Served,
        Event::Denied,
        Event::SourceLimit,
        Event::RateLimit,
        Event::Reflection,
        Event::EchoLoop,
        Event::ReplyTooLarge,
        Event::Amplification,
        Event::LineTooLong,
        Event::IdleTimeout,
        Event::Failed,
        Event::Cut,
        Event::ProxyHeader,
        Event::ProxyUntrusted,
        Event::NotUnicast,
    ];

    /// A short name for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            Event::Served => "served",
            Event::Denied => "denied",
            Event::SourceLimit => "over the per-source connection limit",
            Event::RateLimit => "over the per-source datagram rate",
            Event::Reflection => "reflection risks",
            Event::EchoLoop => "echo loops",
            Event::ReplyTooLarge => "replies too large for a datagram",
            Event::Amplification => "replies over 3x their request",
            Event::LineTooLong => "lines too long",
            Event::IdleTimeout => "idle timeouts",
            Event::Failed => "network failures",
            Event::Cut => "cut at shutdown",
            Event::ProxyHeader => "bad PROXY headers",
            Event::ProxyUntrusted => "connections from no named balancer",
            Event::NotUnicast => "datagrams to a broadcast or multicast address",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Which transport a request came over, for the counts kept apart by transport: an index
/// into them, named by the transport itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A datagram.
    Udp,
    /// A TCP connection.
    Tcp,
    /// A TLS connection.
    Tls,
    /// A QUIC stream.
    Quic,
}

/// How many transports are counted apart.
pub const VIAS: usize = 4;

/// How many kinds of TLS handshake failure are counted apart.
pub const HANDSHAKE_FAILURES: usize = HandshakeFailure::ALL.len();

impl Via {
    /// Every transport, in the order of [`Totals::traffic`].
    pub const ALL: [Via; VIAS] = [Via::Udp, Via::Tcp, Via::Tls, Via::Quic];

    /// The transport's name as users write it: `udp`, `tcp`, `tls`.
    pub fn name(self) -> &'static str {
        match self {
            Via::Udp => Udp::NAME,
            Via::Tcp => Tcp::NAME,
            Via::Tls => Tls::NAME,
            Via::Quic => Quic::NAME,
        }
    }
}

/// Requests served and bytes moved over one transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Requests served: connections to their end, datagrams answered.
    pub served: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent back.
    pub bytes_out: u64,
}

/// What a server run did, in numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// How often each [`Event`] happened, indexed as [`Event::ALL`].
    pub counts: [u64; EVENTS],
    /// Bytes received from peers that were served.
    pub bytes_in: u64,
    /// Bytes sent back.
    pub bytes_out: u64,
    /// Bytes received that were not valid UTF-8 (passed through unchanged).
    pub invalid_bytes: u64,
    /// The served requests and the bytes, by transport, indexed as [`Via::ALL`]; `counts`,
    /// `bytes_in` and `bytes_out` are their sums.
    pub traffic: [Traffic; VIAS],
    /// TLS handshakes that failed, by kind, indexed as [`HandshakeFailure::ALL`].
    pub handshake_failures: [u64; HANDSHAKE_FAILURES],
}

impl Totals {
    /// The served requests and bytes over `via`.
    pub fn traffic(&self, via: Via) -> Traffic {
        self.traffic[via as usize]
    }

    /// How many TLS handshakes failed for `failure`.
    pub fn handshake_failures(&self, failure: HandshakeFailure) -> u64 {
        self.handshake_failures[failure as usize]
    }

    /// How often `event` happened.
    pub fn count(&self, event: Event) -> u64 {
        self.counts[event.index()]
    }

    /// Adds `other` to these totals.
    pub fn add(&mut self, other: &Totals) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
        self.bytes_in += other.bytes_in;
        self.bytes_out += other.bytes_out;
        self.invalid_bytes += other.invalid_bytes;
        for (mine, theirs) in self
            .handshake_failures
            .iter_mut()
            .zip(other.handshake_failures)
        {
            *mine += theirs;
        }
        for (mine, theirs) in self.traffic.iter_mut().zip(other.traffic) {
            mine.served += theirs.served;
            mine.bytes_in += theirs.bytes_in;
            mine.bytes_out += theirs.bytes_out;
        }
    }
}

impl std::fmt::Display for Totals {
    /// `served 12, 2048 bytes in, 2050 out; denied 3, idle timeouts 1`: the events that happened.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "served {}, {} bytes in, {} out",
            self.count(Event::Served),
            self.bytes_in,
            self.bytes_out
        )?;
        let mut others = Event::ALL[1..]
            .iter()
            .filter(|&&e| self.count(e) > 0)
            .peekable();
        if others.peek().is_some() {
            f.write_str(";")?;
        }
        for (i, &event) in others.enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}{} {}", event.name(), self.count(event))?;
        }
        let failed: u64 = self.handshake_failures.iter().sum();
        if failed > 0 {
            write!(f, "; failed TLS handshakes {failed}")?;
        }
        Ok(())
    }
}

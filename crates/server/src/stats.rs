//! What the server did: counters that tasks bump as they go, and [`Totals`], a copy of them.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
}

/// How many kinds of [`Event`] there are.
pub const EVENTS: usize = 13;

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
        }
    }

    fn index(self) -> usize {
        self as usize
    }
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
}

impl Totals {
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
        Ok(())
    }
}

/// The live counters behind [`Totals`], shared by every task of one [`run`](crate::run).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    counts: [AtomicU64; EVENTS],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    invalid_bytes: AtomicU64,
    /// When each event was last logged, and how many went unlogged since.
    throttles: [Mutex<Throttle>; EVENTS],
    /// The same for each kind of [`Trouble`].
    troubles: [Mutex<Throttle>; TROUBLES],
}

/// Something wrong with the server's own sockets, logged at most once a second of each kind
/// but not counted as an event of any peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// A TCP accept failed (no descriptors left, a connection reset before it was taken).
    Accept,
    /// A UDP receive failed.
    Receive,
    /// A metrics connection could not be accepted.
    MetricsAccept,
}

const TROUBLES: usize = 3;

#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// Whether a line may be logged at `now`: `Some(n)` with the number of lines held back
    /// since the last one, or `None`, counting this one as held back.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < LOG_INTERVAL => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Events of one kind are logged at most once in this long, so that a flood cannot fill the log.
const LOG_INTERVAL: Duration = Duration::from_secs(1);

impl Stats {
    pub(crate) fn count(&self, event: Event) {
        self.counts[event.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes(&self, bytes_in: u64, bytes_out: u64, invalid: u64) {
        self.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        self.invalid_bytes.fetch_add(invalid, Ordering::Relaxed);
    }

    /// Counts `event` and says whether to log it now: `Some(n)` with the number of like events
    /// not logged since the last line, or `None` to stay quiet.
    pub(crate) fn count_and_throttle(&self, event: Event, now: Instant) -> Option<u64> {
        self.count(event);
        self.throttles[event.index()]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allow(now)
    }

    /// As [`count_and_throttle`](Self::count_and_throttle), for a [`Trouble`], which is not
    /// counted.
    pub(crate) fn throttle_trouble(&self, trouble: Trouble, now: Instant) -> Option<u64> {
        self.troubles[trouble as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allow(now)
    }

    pub(crate) fn totals(&self) -> Totals {
        Totals {
            counts: std::array::from_fn(|i| self.counts[i].load(Ordering::Relaxed)),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            invalid_bytes: self.invalid_bytes.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_indexed_in_order() {
        for (i, event) in Event::ALL.iter().enumerate() {
            assert_eq!(event.index(), i);
        }
    }

    #[test]
    fn a_flood_is_logged_once_a_second_with_the_rest_counted() {
        let stats = Stats::default();
        let start = Instant::now();
        assert_eq!(stats.count_and_throttle(Event::Denied, start), Some(0));
        for _ in 0..999 {
            assert_eq!(stats.count_and_throttle(Event::Denied, start), None);
        }
        assert_eq!(
            stats.count_and_throttle(Event::RateLimit, start),
            Some(0),
            "each kind apart"
        );
        let later = start + LOG_INTERVAL;
        assert_eq!(stats.count_and_throttle(Event::Denied, later), Some(999));
        assert_eq!(stats.totals().count(Event::Denied), 1001);
    }

    #[test]
    fn totals_print_what_happened() {
        let stats = Stats::default();
        stats.count(Event::Served);
        stats.bytes(5, 6, 0);
        assert_eq!(stats.totals().to_string(), "served 1, 5 bytes in, 6 out");
        stats.count(Event::Denied);
        stats.count(Event::IdleTimeout);
        stats.count(Event::IdleTimeout);
        let mut totals = stats.totals();
        assert_eq!(
            totals.to_string(),
            "served 1, 5 bytes in, 6 out; denied 1, idle timeouts 2"
        );
        totals.add(&stats.totals());
        assert_eq!(totals.count(Event::IdleTimeout), 4);
    }
}

//! What the server did: counters that tasks bump as they go, and [`Totals`], a copy of them.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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

/// Which transport a request came over, for the counts kept apart by transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A datagram.
    Udp,
    /// A connection.
    Tcp,
}

impl Via {
    /// Both, in the order of [`Totals::traffic`].
    pub const ALL: [Via; 2] = [Via::Udp, Via::Tcp];

    /// The transport's name as users write it: `udp`, `tcp`.
    pub fn name(self) -> &'static str {
        match self {
            Via::Udp => "udp",
            Via::Tcp => "tcp",
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
    pub traffic: [Traffic; 2],
}

impl Totals {
    /// The served requests and bytes over `via`.
    pub fn traffic(&self, via: Via) -> Traffic {
        self.traffic[via as usize]
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
        Ok(())
    }
}

/// The live counters behind [`Totals`], shared by every task of one [`run`](crate::run).
///
/// Each thread counts in a shard of its own (threads take the shards in turn), so that the
/// workers, one per core, do not pass a cache line back and forth at every request; the shards
/// are summed when read, at a scrape or at exit.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    shards: Box<[Shard; SHARDS]>,
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

/// How many shards the counters are spread over: more than the cores of most machines, so
/// that each worker thread has its own.
const SHARDS: usize = 16;

/// One thread's counters, alone on its cache lines (two, as the prefetcher pairs them).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    /// Every event but [`Event::Served`], which `traffic` counts by transport.
    counts: [AtomicU64; EVENTS],
    /// By transport, as [`Via::ALL`]: one set of counters each, so that a request bumps as
    /// many as before the transports were told apart.
    traffic: [TrafficCounters; 2],
    invalid_bytes: AtomicU64,
}

thread_local! {
    /// This thread's shard, once it has counted something.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The next shard a thread takes.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's shard.
#[inline]
fn shard_index() -> usize {
    SHARD.with(|shard| match shard.get() {
        usize::MAX => {
            let taken = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
            shard.set(taken);
            taken
        }
        taken => taken,
    })
}

#[derive(Debug, Default)]
struct TrafficCounters {
    served: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
}

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
    /// The calling thread's shard.
    #[inline]
    fn shard(&self) -> &Shard {
        &self.shards[shard_index()]
    }

    /// Counts `event`; a served request is counted by [`served`](Self::served) instead.
    pub(crate) fn count(&self, event: Event) {
        debug_assert!(
            event != Event::Served,
            "served requests are counted by transport"
        );
        self.shard().counts[event.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request served over `via`.
    pub(crate) fn served(&self, via: Via) {
        self.shard().traffic[via as usize]
            .served
            .fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes(&self, via: Via, bytes_in: u64, bytes_out: u64, invalid: u64) {
        let shard = self.shard();
        let traffic = &shard.traffic[via as usize];
        traffic.bytes_in.fetch_add(bytes_in, Ordering::Relaxed);
        traffic.bytes_out.fetch_add(bytes_out, Ordering::Relaxed);
        if invalid > 0 {
            shard.invalid_bytes.fetch_add(invalid, Ordering::Relaxed);
        }
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

    /// The shards, summed.
    pub(crate) fn totals(&self) -> Totals {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let sum = |read: &dyn Fn(&Shard) -> u64| self.shards.iter().map(read).sum::<u64>();
        let traffic: [Traffic; 2] = std::array::from_fn(|via| Traffic {
            served: sum(&|shard| load(&shard.traffic[via].served)),
            bytes_in: sum(&|shard| load(&shard.traffic[via].bytes_in)),
            bytes_out: sum(&|shard| load(&shard.traffic[via].bytes_out)),
        });
        let mut counts: [u64; EVENTS] =
            std::array::from_fn(|event| sum(&|shard| load(&shard.counts[event])));
        counts[Event::Served.index()] = traffic.iter().map(|t| t.served).sum();
        Totals {
            counts,
            bytes_in: traffic.iter().map(|t| t.bytes_in).sum(),
            bytes_out: traffic.iter().map(|t| t.bytes_out).sum(),
            invalid_bytes: sum(&|shard| load(&shard.invalid_bytes)),
            traffic,
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
        stats.served(Via::Tcp);
        stats.bytes(Via::Tcp, 5, 6, 0);
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
        assert_eq!(totals.traffic(Via::Tcp).bytes_in, 10);
    }

    #[test]
    fn traffic_is_kept_by_transport_and_summed() {
        let stats = Stats::default();
        stats.served(Via::Udp);
        stats.served(Via::Tcp);
        stats.served(Via::Tcp);
        stats.bytes(Via::Udp, 3, 3, 0);
        stats.bytes(Via::Tcp, 10, 12, 1);
        let totals = stats.totals();
        assert_eq!(totals.count(Event::Served), 3);
        assert_eq!(
            (totals.bytes_in, totals.bytes_out, totals.invalid_bytes),
            (13, 15, 1)
        );
        let udp = Traffic {
            served: 1,
            bytes_in: 3,
            bytes_out: 3,
        };
        assert_eq!(totals.traffic(Via::Udp), udp);
        assert_eq!(totals.traffic(Via::Tcp).served, 2);
    }

    #[test]
    fn counts_from_many_threads_are_summed() {
        let stats = Stats::default();
        std::thread::scope(|scope| {
            for _ in 0..SHARDS + 3 {
                scope.spawn(|| {
                    for _ in 0..100 {
                        stats.served(Via::Udp);
                        stats.bytes(Via::Udp, 2, 3, 1);
                        stats.count(Event::Denied);
                    }
                });
            }
        });
        let totals = stats.totals();
        let threads = (SHARDS + 3) as u64;
        assert_eq!(totals.count(Event::Served), 100 * threads);
        assert_eq!(totals.count(Event::Denied), 100 * threads);
        assert_eq!(totals.bytes_in, 200 * threads);
        assert_eq!(totals.traffic(Via::Udp).bytes_out, 300 * threads);
        assert_eq!(totals.invalid_bytes, 100 * threads);
    }
}

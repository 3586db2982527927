//! The live counters that tasks bump as they go, a shard per thread, read as [`Totals`]; and
//! the throttle that keeps floods out of the log.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use upcase_transport::HandshakeFailure;

use crate::totals::{EVENTS, Event, HANDSHAKE_FAILURES, Totals, Traffic, VIAS, Via};

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
    /// TLS handshakes failed, by kind: rare enough to need no shards.
    handshakes: [AtomicU64; HANDSHAKE_FAILURES],
    /// When each kind of handshake failure was last logged.
    handshake_throttles: [Mutex<Throttle>; HANDSHAKE_FAILURES],
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
    traffic: [TrafficCounters; VIAS],
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

    /// Counts a failed TLS handshake, and says whether to log it now, as
    /// [`count_and_throttle`](Self::count_and_throttle) does.
    pub(crate) fn handshake_failed(&self, failure: HandshakeFailure, now: Instant) -> Option<u64> {
        self.handshakes[failure as usize].fetch_add(1, Ordering::Relaxed);
        self.handshake_throttles[failure as usize]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allow(now)
    }

    /// The shards, summed.
    pub(crate) fn totals(&self) -> Totals {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let sum = |read: &dyn Fn(&Shard) -> u64| self.shards.iter().map(read).sum::<u64>();
        let traffic: [Traffic; VIAS] = std::array::from_fn(|via| Traffic {
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
            handshake_failures: std::array::from_fn(|kind| load(&self.handshakes[kind])),
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

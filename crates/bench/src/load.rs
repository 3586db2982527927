//! [`Load`]: what every worker of a run shares, and when each of its requests is due.

use std::time::Duration;

use tokio::time::Instant;

use crate::payload::ReplyCheck;
use crate::share::Share;
use crate::tally::Shard;

/// Later than any run: a timer set for it is as good as none.
pub(crate) const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The run as every worker sees it: read-only once the load has started.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// Bytes per request.
    pub(crate) size: usize,
    /// What the replies are held to.
    pub(crate) check: ReplyCheck,
    /// Requests in flight per connection or socket.
    pub(crate) window: usize,
    /// How long a reply may take before it is counted lost.
    pub(crate) timeout: Duration,
    /// When the load started: every connection is set up by then.
    pub(crate) start: Instant,
    /// When the figures start: `--warmup` after the start (the start, without one).
    pub(crate) from: Instant,
    /// When sending stops, if a time bounds the run.
    pub(crate) deadline: Option<Instant>,
    /// Open loop: the rate, and how this generator's workers share it.
    pub(crate) rate: Option<Rated>,
}

/// Open loop: requests a second asked of all the generators, this one's share of them, and how
/// many workers share that.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rated {
    pub(crate) per_second: f64,
    pub(crate) share: Share,
    pub(crate) workers: usize,
}

impl Load {
    /// Whether the run's time is up at `now`.
    pub(crate) fn over(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| now >= deadline)
    }

    /// The schedule of worker number `worker`.
    pub(crate) fn schedule(&self, worker: usize) -> Schedule {
        Schedule {
            start: self.start,
            rate: self.rate.map(|rated| (rated, worker)),
        }
    }
}

/// A request on its way: its number, when it was due, when it was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) seq: u64,
    pub(crate) due: Instant,
    pub(crate) sent: Instant,
}

/// When the requests of one worker are due. Open loop: request `k` of worker `w` of `W`, in
/// share `i` of `n`, takes the rate's slot `(k × W + w) × n + i - 1`, due at
/// `start + slot / rate`: the workers' requests interleave evenly, and so do the generators'
/// (started at one time, `--start-at`), and together they make the rate. Closed loop: every
/// request is due as soon as it has a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    start: Instant,
    rate: Option<(Rated, usize)>,
}

impl Schedule {
    /// When request `k` is due; `None` in closed loop, where it is due when it has a slot.
    pub(crate) fn due(&self, k: u64) -> Option<Instant> {
        let (rated, worker) = self.rate?;
        let ours = (k as f64) * rated.workers as f64 + worker as f64;
        let slot = ours * f64::from(rated.share.of) + f64::from(rated.share.index - 1);
        Some(self.start + Duration::from_secs_f64(slot / rated.per_second))
    }

    /// Whether requests wait for their time.
    pub(crate) fn open(&self) -> bool {
        self.rate.is_some()
    }

    /// Open loop, with request `next` the first never sent: how far short of its schedule the
    /// worker fell by `end`.
    pub(crate) fn shortfall(&self, next: u64, end: Instant) -> Shortfall {
        let (Some((rated, _)), Some(due)) = (self.rate, self.due(next)) else {
            return Shortfall::NONE;
        };
        if due >= end {
            return Shortfall::NONE;
        }
        let behind = end - due;
        let gap = rated.workers as f64 * f64::from(rated.share.of) / rated.per_second;
        Shortfall {
            unsent: (behind.as_secs_f64() / gap).ceil() as u64,
            behind,
        }
    }
}

/// How far short of its schedule an open-loop worker fell by the end of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shortfall {
    /// Requests due before the end and never sent.
    pub(crate) unsent: u64,
    /// How far behind its schedule the worker was at the end.
    pub(crate) behind: Duration,
}

impl Shortfall {
    const NONE: Shortfall = Shortfall {
        unsent: 0,
        behind: Duration::ZERO,
    };
}

/// One worker's way through its schedule: the next request's number, and whether it has
/// stopped sending. TCP and UDP workers queue their requests through it alike.
#[derive(Debug)]
pub(crate) struct Sending {
    schedule: Schedule,
    /// The next request's number.
    pub(crate) next: u64,
    /// No more requests will be sent: the run's time or its count is up.
    pub(crate) ended: bool,
}

impl Sending {
    pub(crate) fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            next: 0,
            ended: false,
        }
    }

    /// Hands `queue` the number and due time of each request that may go at `now`, up to
    /// `free` of them: those whose time has come (all, in closed loop) while the thread's
    /// count lasts.
    pub(crate) fn queue_due(
        &mut self,
        load: &Load,
        now: Instant,
        shard: &Shard,
        free: usize,
        mut queue: impl FnMut(u64, Instant),
    ) {
        if !self.ended && (load.over(now) || shard.all_taken()) {
            self.ended = true;
        }
        let (mut queued, mut counted) = (0, 0);
        while !self.ended && queued < free {
            let due = match self.schedule.due(self.next) {
                Some(due) if due > now => break,
                Some(due) => due,
                None => now,
            };
            if !shard.take_request() {
                self.ended = true;
                break;
            }
            queue(self.next, due);
            self.next += 1;
            queued += 1;
            // Requests of the warm-up are sent and checked, and counted in no figure.
            counted += u64::from(due >= load.from);
        }
        shard.sent(counted);
    }

    /// Open loop: when the next request is due, if the window will have a slot for it.
    pub(crate) fn next_due(&self, free: usize) -> Option<Instant> {
        if self.ended || free == 0 {
            return None;
        }
        self.schedule.due(self.next)
    }

    /// Open loop, at the worker's end: says how far behind its schedule it fell.
    pub(crate) fn finish(&self, load: &Load, shard: &Shard) {
        if let Some(deadline) = load.deadline {
            let short = self.schedule.shortfall(self.next, deadline);
            shard.fell_behind(short.unsent, short.behind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rate: Option<(f64, usize)>) -> Load {
        shared(rate, Share::WHOLE)
    }

    fn shared(rate: Option<(f64, usize)>, share: Share) -> Load {
        let start = Instant::now();
        Load {
            size: 64,
            check: ReplyCheck::Learn,
            window: 1,
            timeout: Duration::from_secs(1),
            start,
            from: start,
            deadline: None,
            rate: rate.map(|(per_second, workers)| Rated {
                per_second,
                share,
                workers,
            }),
        }
    }

    #[test]
    fn shares_of_one_rate_interleave_across_generators() {
        // 3 generators of 2 workers each share 600/s: a request every 1/600 s in all.
        let mut slots: Vec<Duration> = Vec::new();
        for index in 1..=3 {
            let load = shared(Some((600.0, 2)), Share { index, of: 3 });
            for worker in 0..2 {
                let schedule = load.schedule(worker);
                for k in 0..100 {
                    slots.extend(schedule.due(k).map(|due| due - load.start));
                }
            }
        }
        slots.sort();
        for (n, slot) in slots.iter().enumerate() {
            let expected = Duration::from_secs_f64(n as f64 / 600.0);
            assert!(
                slot.abs_diff(expected) < Duration::from_nanos(10),
                "{n}: {slot:?}"
            );
        }
        let second = shared(Some((600.0, 2)), Share { index: 2, of: 3 });
        let at = second.schedule(1).due(0).map(|due| due - second.start);
        assert_eq!(at, Some(Duration::from_secs_f64(4.0 / 600.0)));
    }

    #[test]
    fn an_open_schedule_interleaves_the_workers_at_the_rate() {
        let load = load(Some((1000.0, 4)));
        let (first, third) = (load.schedule(0), load.schedule(2));
        let at = |schedule: Schedule, k| schedule.due(k).map(|due| due - load.start);
        assert_eq!(at(first, 0), Some(Duration::ZERO));
        assert_eq!(at(third, 0), Some(Duration::from_millis(2)));
        assert_eq!(at(first, 1), Some(Duration::from_millis(4)));
        assert_eq!(at(third, 250), Some(Duration::from_millis(1002)));
        assert!(first.open());
    }

    #[test]
    fn a_worker_behind_its_schedule_counts_what_it_never_sent() {
        let load = load(Some((1000.0, 1)));
        let schedule = load.schedule(0);
        let end = load.start + Duration::from_millis(100);
        // Request 90 was due at 90 ms: 90..=99 were never sent, and the worker is 10 ms behind.
        let short = |unsent, behind| Shortfall { unsent, behind };
        assert_eq!(
            schedule.shortfall(90, end),
            short(10, Duration::from_millis(10))
        );
        assert_eq!(schedule.shortfall(100, end), short(0, Duration::ZERO));
        assert_eq!(
            load_closed().schedule(0).shortfall(0, end),
            short(0, Duration::ZERO)
        );
    }

    fn load_closed() -> Load {
        load(None)
    }

    #[test]
    fn a_closed_schedule_has_no_times() {
        let load = load(None);
        assert_eq!(load.schedule(3).due(10), None);
        assert!(!load.schedule(0).open());
    }
}

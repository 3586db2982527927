//! [`Tally`]: what a run, or one interval of it, counted; and [`Shard`], what the workers of
//! one thread count into, with no lock between them.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

/// The longest latency a histogram tells apart; longer ones count as this.
const LONGEST_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, three significant figures from 1 ns to a minute.
pub(crate) fn histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, LONGEST_NS, 3) {
        Ok(histogram) => histogram,
        // The bounds are constants that hdrhistogram accepts.
        Err(error) => unreachable!("latency histogram bounds: {error}"),
    }
}

/// Counts and latencies.
#[derive(Debug, Clone)]
pub(crate) struct Tally {
    /// Requests sent.
    pub(crate) sent: u64,
    /// Replies that answered their request.
    pub(crate) replies: u64,
    /// Requests whose reply did not come within the timeout.
    pub(crate) lost: u64,
    /// Replies that did not answer their request.
    pub(crate) wrong: u64,
    /// Latency of each good reply from the time its request was due (from when it was sent,
    /// in closed loop, where the two are the same).
    pub(crate) latency: Histogram<u64>,
    /// Open loop: latency from when each request was actually sent.
    pub(crate) uncorrected: Option<Histogram<u64>>,
    /// Open loop: requests whose time came before the end but that were never sent.
    pub(crate) unsent: u64,
    /// Open loop: how far behind its schedule the furthest worker was at the end.
    pub(crate) behind: Duration,
    /// TLS handshakes made during the load (a connection per request), and how many of them
    /// resumed a session.
    pub(crate) handshakes: u64,
    pub(crate) resumed: u64,
    /// Wrong replies to requests of the warm-up: in no figure, and still a failed run.
    pub(crate) warmup_wrong: u64,
}

impl Tally {
    pub(crate) fn new(open_loop: bool) -> Self {
        Self {
            sent: 0,
            replies: 0,
            lost: 0,
            wrong: 0,
            latency: histogram(),
            uncorrected: open_loop.then(histogram),
            unsent: 0,
            behind: Duration::ZERO,
            handshakes: 0,
            resumed: 0,
            warmup_wrong: 0,
        }
    }

    /// Counts a reply that came at `now` to a request due at `due` and sent at `sent`.
    pub(crate) fn reply(&mut self, right: bool, due: Instant, sent: Instant, now: Instant) {
        if !right {
            self.wrong += 1;
            return;
        }
        self.replies += 1;
        self.latency.saturating_record(nanos(now - due));
        if let Some(uncorrected) = &mut self.uncorrected {
            uncorrected.saturating_record(nanos(now - sent));
        }
    }

    pub(crate) fn add(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.replies += other.replies;
        self.lost += other.lost;
        self.wrong += other.wrong;
        self.unsent += other.unsent;
        self.behind = self.behind.max(other.behind);
        self.handshakes += other.handshakes;
        self.resumed += other.resumed;
        self.warmup_wrong += other.warmup_wrong;
        // Same bounds on both sides, so adding cannot fail; were it to, the samples are lost,
        // not the run.
        let _ = self.latency.add(&other.latency);
        if let (Some(mine), Some(theirs)) = (&mut self.uncorrected, &other.uncorrected) {
            let _ = mine.add(theirs);
        }
    }

    /// Empties the counts, keeping the histograms' memory.
    pub(crate) fn clear(&mut self) {
        self.sent = 0;
        self.replies = 0;
        self.lost = 0;
        self.wrong = 0;
        self.unsent = 0;
        self.behind = Duration::ZERO;
        self.handshakes = 0;
        self.resumed = 0;
        self.warmup_wrong = 0;
        self.latency.reset();
        if let Some(uncorrected) = &mut self.uncorrected {
            uncorrected.reset();
        }
    }
}

/// A latency in whole nanoseconds, at least 1 (the histogram's lowest value).
fn nanos(latency: Duration) -> u64 {
    u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// What the workers of one thread share: the run's tally and the current interval's, and the
/// requests the thread may still send. Workers of one thread take turns, so plain cells do.
#[derive(Debug)]
pub(crate) struct Shard {
    /// Everything so far.
    pub(crate) whole: RefCell<Tally>,
    /// Since the last interval's end.
    pub(crate) interval: RefCell<Tally>,
    /// Whether intervals need their latencies, or only their counts (for the progress line).
    interval_latency: bool,
    /// Requests this thread may still send, if a count bounds the run.
    left: Cell<Option<u64>>,
    /// With `--warmup`: when the figures start, and the reply timeout, which tells a request
    /// lost now from one sent before then.
    warmup: Option<(Instant, Duration)>,
}

impl Shard {
    pub(crate) fn new(open_loop: bool, requests: Option<u64>, interval_latency: bool) -> Self {
        Self {
            whole: RefCell::new(Tally::new(open_loop)),
            // An interval's histograms are kept only when asked for (`--interval`, `--hlog`).
            interval: RefCell::new(Tally::new(open_loop && interval_latency)),
            interval_latency,
            left: Cell::new(requests),
            warmup: None,
        }
    }

    /// Keeps requests due before `from` out of every figure; a request counted lost sooner than
    /// `timeout` after `from` was sent before it.
    pub(crate) fn warm_up_until(mut self, from: Instant, timeout: Duration) -> Self {
        self.warmup = Some((from, timeout));
        self
    }

    /// Takes one request to send: `false` once the thread's count is used up.
    pub(crate) fn take_request(&self) -> bool {
        match self.left.get() {
            None => true,
            Some(0) => false,
            Some(n) => {
                self.left.set(Some(n - 1));
                true
            }
        }
    }

    /// Whether the thread's count is used up.
    pub(crate) fn all_taken(&self) -> bool {
        self.left.get() == Some(0)
    }

    pub(crate) fn sent(&self, count: u64) {
        self.whole.borrow_mut().sent += count;
        self.interval.borrow_mut().sent += count;
    }

    pub(crate) fn reply(&self, right: bool, due: Instant, sent: Instant, now: Instant) {
        if let Some((from, _)) = self.warmup
            && due < from
        {
            self.whole.borrow_mut().warmup_wrong += u64::from(!right);
            return;
        }
        self.whole.borrow_mut().reply(right, due, sent, now);
        let mut interval = self.interval.borrow_mut();
        if self.interval_latency {
            interval.reply(right, due, sent, now);
        } else if right {
            interval.replies += 1;
        } else {
            interval.wrong += 1;
        }
    }

    pub(crate) fn lost(&self, count: u64) {
        if let Some((from, timeout)) = self.warmup
            && Instant::now() < from + timeout
        {
            return;
        }
        self.whole.borrow_mut().lost += count;
        self.interval.borrow_mut().lost += count;
    }

    /// A handshake made during the load.
    pub(crate) fn handshake(&self, resumed: bool) {
        let mut whole = self.whole.borrow_mut();
        whole.handshakes += 1;
        whole.resumed += u64::from(resumed);
    }

    /// A worker's end, open loop: `unsent` requests were due but never sent, and it was
    /// `behind` its schedule.
    pub(crate) fn fell_behind(&self, unsent: u64, behind: Duration) {
        let mut whole = self.whole.borrow_mut();
        whole.unsent += unsent;
        whole.behind = whole.behind.max(behind);
    }

    /// The interval's tally, leaving an empty one in its place.
    pub(crate) fn take_interval(&self) -> Tally {
        let mut interval = self.interval.borrow_mut();
        let taken = interval.clone();
        interval.clear();
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_loop_latency_counts_from_the_due_time() {
        let mut tally = Tally::new(true);
        let due = Instant::now();
        let sent = due + Duration::from_millis(300);
        tally.reply(true, due, sent, sent + Duration::from_millis(1));
        assert!(tally.latency.max() >= 301_000_000);
        let uncorrected = tally.uncorrected.as_ref().map(Histogram::max);
        assert!(uncorrected.is_some_and(|max| (1_000_000..2_000_000).contains(&max)));
        tally.reply(false, due, sent, sent);
        assert_eq!((tally.replies, tally.wrong), (1, 1));
    }

    #[test]
    fn a_count_is_shared_out_one_request_at_a_time() {
        let shard = Shard::new(false, Some(2), true);
        assert!(shard.take_request() && shard.take_request());
        assert!(!shard.take_request() && shard.all_taken());
        let unbounded = Shard::new(false, None, true);
        assert!(unbounded.take_request() && !unbounded.all_taken());
    }

    #[test]
    fn the_warm_up_is_in_no_figure_but_a_wrong_reply_in_it_is_kept() {
        let start = Instant::now();
        let from = start + Duration::from_secs(5);
        let shard = Shard::new(true, None, true).warm_up_until(from, Duration::from_secs(1));
        shard.reply(true, start, start, start + Duration::from_micros(5));
        shard.reply(false, start, start, start + Duration::from_micros(5));
        shard.lost(3);
        shard.reply(true, from, from, from + Duration::from_micros(5));
        let whole = shard.whole.borrow();
        assert_eq!((whole.replies, whole.wrong, whole.lost), (1, 0, 0));
        assert_eq!((whole.latency.len(), whole.warmup_wrong), (1, 1));
        assert_eq!(shard.interval.borrow().replies, 1);
    }

    #[test]
    fn an_interval_is_taken_and_cleared() {
        let shard = Shard::new(false, None, true);
        let now = Instant::now();
        shard.reply(true, now, now, now + Duration::from_micros(5));
        shard.lost(2);
        let first = shard.take_interval();
        assert_eq!((first.replies, first.lost, first.latency.len()), (1, 2, 1));
        let second = shard.take_interval();
        assert_eq!(
            (second.replies, second.lost, second.latency.len()),
            (0, 0, 0)
        );
        assert_eq!(shard.whole.borrow().replies, 1);
    }
}

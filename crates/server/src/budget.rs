//! [`Budget`]: how much all connections together may hold in replies not yet taken.
//!
//! A client that sends and never reads leaves the server holding its reply until the socket
//! takes it: up to three times what was read, since upper case can grow text that much. With
//! ten thousand such clients that would be hundreds of megabytes. So a reply that the socket
//! does not take at once is counted against one budget until it is sent, and a connection
//! reads its next chunk, and makes its reply, only while the budget has room for the largest
//! reply ([`MAX_RESERVE`]). One that finds it spent waits, reading nothing more, and looks
//! again every [`RETRY`] until others' replies leave (backpressure); none is dropped for it,
//! and the wait is not idleness.
//!
//! A reply the socket takes at once is never counted: it lives only within one poll of its
//! connection, so each worker thread holds at most one such reply at a time. Counting only the
//! replies that wait keeps the shared counter out of the common path, where every request
//! would move its cache line between cores. The check and the count happen in that same poll,
//! so a worker can pass the budget by at most the one reply it is making.
//!
//! Beside the budget, each connection that has read a chunk holds its read buffer (at most
//! 16 KiB), so the worst case is the budget, plus 16 KiB per connection, plus 64 KiB per
//! worker: at the defaults, 96 MiB + 10,000 × 16 KiB + 2 × 64 KiB, about 253 MiB.
//!
//! The wait looks again on a timer rather than being woken: a waker would have to live in every
//! connection's future, idle or not, for a state that only an attack brings about.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The default budget, in bytes.
pub(crate) const DEFAULT_BUDGET: usize = 96 * 1024 * 1024;

/// The most one reply buffer may take: three times the largest read and the thread's spare
/// buffer both fit.
pub(crate) const MAX_RESERVE: usize = 64 * 1024;

/// The smallest budget: one largest reply.
pub const MIN_BUDGET: usize = MAX_RESERVE;

/// How often a connection waiting for the budget looks again.
pub(crate) const RETRY: Duration = Duration::from_millis(50);

/// Reply bytes that connections hold at once, against a limit.
#[derive(Debug)]
pub(crate) struct Budget {
    /// The limit, at least [`MIN_BUDGET`].
    limit: usize,
    /// Bytes counted now.
    held: AtomicUsize,
}

/// Bytes counted against a [`Budget`]; dropping it gives them back.
#[derive(Debug)]
pub(crate) struct Reserved<'a> {
    budget: &'a Budget,
    bytes: usize,
}

impl Budget {
    /// A budget of `bytes` (at least [`MIN_BUDGET`]).
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            limit: bytes.max(MIN_BUDGET),
            held: AtomicUsize::new(0),
        }
    }

    /// Whether a connection may read its next chunk: the budget has room for its largest reply.
    pub(crate) fn has_room(&self) -> bool {
        self.held.load(Ordering::Relaxed) + MAX_RESERVE <= self.limit
    }

    /// Counts `bytes` (at most [`MAX_RESERVE`]) until the result is dropped: a reply that has
    /// to wait for its socket. Call it in the poll in which [`has_room`](Self::has_room) said
    /// yes.
    pub(crate) fn reserve(&self, bytes: usize) -> Reserved<'_> {
        let bytes = bytes.min(MAX_RESERVE);
        self.held.fetch_add(bytes, Ordering::Relaxed);
        Reserved {
            budget: self,
            bytes,
        }
    }

    /// Bytes counted now.
    pub(crate) fn reserved(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_is_room_until_the_largest_reply_would_not_fit() {
        let budget = Budget::new(3 * MAX_RESERVE);
        assert!(budget.has_room());
        let first = budget.reserve(MAX_RESERVE);
        let second = budget.reserve(MAX_RESERVE);
        assert!(budget.has_room(), "one more largest reply fits");
        let small = budget.reserve(1);
        assert!(!budget.has_room(), "it no longer does");
        assert_eq!(budget.reserved(), 2 * MAX_RESERVE + 1);
        drop((first, small));
        assert!(budget.has_room(), "room again once replies leave");
        drop(second);
        assert_eq!(budget.reserved(), 0);
    }

    #[test]
    fn a_reservation_counts_at_most_the_largest_reply() {
        let budget = Budget::new(0);
        assert!(
            budget.has_room(),
            "the smallest budget takes one largest reply"
        );
        let all = budget.reserve(10 * MAX_RESERVE);
        assert_eq!(budget.reserved(), MAX_RESERVE);
        assert!(!budget.has_room());
        drop(all);
        assert!(budget.has_room());
    }
}

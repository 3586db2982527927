//! The timers of the TCP side, arranged so that a request costs no timer work.
//!
//! A connection has one timer for its whole life, [`Deadline`], and one drain signal: made
//! afresh for each read and write, they would be registered and unregistered on every
//! request. The timer fires at most once per idle period and is then set again from the last
//! progress; with no idle timeout it is never polled, so never registered.
//!
//! The accept loop keeps a timer of its own ahead of them, [`AcceptTimer`]: each new connection sets
//! its timer, and when that would be the runtime's earliest, tokio wakes its driver to take it
//! into account (a write to an eventfd, and one more `epoll_wait`), which on short connections
//! is a wake-up per connection. With the listener's always earlier, a connection's never is.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep, sleep};

use crate::budget::RETRY as BUDGET_RETRY;
use crate::service::{CUT_GRACE, Service};

pin_project! {
    /// A connection's idle timeout, the budget's retry and the drain's end, on one timer.
    pub(crate) struct Deadline {
        #[pin]
        timer: Sleep,
        #[pin]
        cut: OwnedNotified,
        progress: Instant,
        // Once the cut is seen, the timer is set for the end of its grace, and firing then
        // ends the connection: a client that takes no replies cannot hold it open.
        cut_seen: bool,
    }
}

/// Why [`Deadline::poll_wait`] returned.
pub(crate) enum WakeReason {
    /// The budget's retry came: look again whether it has room.
    Retry,
    /// The drain ended.
    Cut,
}

/// Why the deadline ends a connection.
pub(crate) enum Expired {
    /// Nothing moved for the idle timeout.
    Idle,
    /// The drain ended, and [`CUT_GRACE`] passed too while a reply still waited to be taken.
    Unread,
}

impl Deadline {
    /// A connection's deadline, on the heap: the timer and the notification must not move once
    /// polled, and the connection that holds them moves into its task.
    pub(crate) fn new(service: &Service) -> Pin<Box<Self>> {
        Box::pin(Self {
            timer: sleep(service.options.idle_timeout),
            cut: service.cut.notified(),
            progress: Instant::now(),
            cut_seen: false,
        })
    }

    /// The connection moved: the idle period starts again.
    #[inline]
    pub(crate) fn progress(self: Pin<&mut Self>) {
        *self.project().progress = Instant::now();
    }

    /// The budget has no room: look again after its retry, which is not idleness.
    pub(crate) fn retry_budget(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.cut_seen {
            *this.progress = Instant::now();
            this.timer.reset(*this.progress + BUDGET_RETRY);
        }
    }

    /// Polls the timer, and the drain's end while `watch_cut`. `room` says whether the budget
    /// has room: without it, the timer is the budget's retry. Made to sit beside a read or a
    /// write in a `select!`, through `poll_fn`, with no state of its own.
    #[inline]
    pub(crate) fn poll_wait(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        service: &Service,
        watch_cut: bool,
        room: bool,
    ) -> Poll<Result<WakeReason, Expired>> {
        let idle = service.options.idle_timeout;
        let armed = !idle.is_zero() || self.cut_seen || !room;
        while armed && self.as_mut().project().timer.poll(cx).is_ready() {
            if !room && !self.cut_seen {
                return Poll::Ready(Ok(WakeReason::Retry));
            }
            self.as_mut().rearm_or_expire(idle)?;
        }
        if watch_cut && (service.cut.is_raised() || self.as_mut().project().cut.poll(cx).is_ready())
        {
            self.see_cut();
            return Poll::Ready(Ok(WakeReason::Cut));
        }
        Poll::Pending
    }

    /// When the timer fires: the end once the cut's grace is over, or if nothing moved for
    /// `idle`; otherwise the timer is set for `idle` after the last progress.
    fn rearm_or_expire(self: Pin<&mut Self>, idle: Duration) -> Result<(), Expired> {
        if self.cut_seen {
            return Err(Expired::Unread);
        }
        let deadline = self.progress + idle;
        if Instant::now() >= deadline {
            return Err(Expired::Idle);
        }
        self.project().timer.reset(deadline);
        Ok(())
    }

    /// When the cut is first seen: the timer is set for the end of the grace.
    fn see_cut(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.cut_seen {
            *this.cut_seen = true;
            this.timer.reset(Instant::now() + CUT_GRACE);
        }
    }

    /// Whether the drain's end has been seen.
    #[inline]
    pub(crate) fn cut_seen(&self) -> bool {
        self.cut_seen
    }
}

pin_project! {
    /// The accept loop's timer, kept `idle` ahead of the connections' (see the module docs).
    pub(crate) struct AcceptTimer {
        #[pin]
        timer: Sleep,
        idle: Duration,
    }
}

impl AcceptTimer {
    pub(crate) fn new(idle: Duration) -> Self {
        Self {
            timer: sleep(idle),
            idle,
        }
    }

    /// Keeps the timer ahead; never completes.
    pub(crate) async fn keep(mut self: Pin<&mut Self>) {
        if self.idle.is_zero() {
            return std::future::pending().await;
        }
        loop {
            let this = self.as_mut().project();
            this.timer.await;
            let this = self.as_mut().project();
            this.timer.reset(Instant::now() + *this.idle);
        }
    }
}

//! [`Pacer`]: wakes an open-loop worker when its next request is due, to the microsecond.
//!
//! tokio's timers tick in milliseconds: a request due 0.3 ms from now would leave up to a
//! millisecond late, and with latency counted from the due time (as open loop must), every
//! reply would look up to a millisecond slower than the server made it. On Linux a `timerfd`
//! in the runtime's epoll wakes the worker within the kernel's timer slack instead; elsewhere
//! tokio's timer is used, with its millisecond.

use std::io;

use tokio::time::Instant;

use crate::load::Schedule;

/// A one-shot alarm for one worker's next request.
#[derive(Debug)]
pub(crate) struct Pacer {
    inner: sys::Alarm,
    /// What it is set for, if anything.
    set_for: Option<Instant>,
}

impl Pacer {
    /// A pacer for an open-loop `schedule`; none in closed loop, where nothing waits for its
    /// time.
    pub(crate) fn for_schedule(schedule: &Schedule) -> io::Result<Option<Self>> {
        if schedule.open() {
            Self::new().map(Some)
        } else {
            Ok(None)
        }
    }

    /// An alarm for a worker on this thread, whose timers the kernel is asked not to delay:
    /// by default it may ring 50 µs late, to group wake-ups.
    pub(crate) fn new() -> io::Result<Self> {
        sys::no_slack();
        Ok(Self {
            inner: sys::Alarm::new()?,
            set_for: None,
        })
    }

    /// Waits until `at`.
    pub(crate) async fn until(&mut self, at: Instant) -> io::Result<()> {
        if self.set_for != Some(at) {
            self.inner.set(at)?;
            self.set_for = Some(at);
        }
        let rung = self.inner.ring().await;
        self.set_for = None;
        rung
    }
}

/// Waits on `pacer`, if there is one, until `due`; never without both.
pub(crate) async fn pace(pacer: &mut Option<Pacer>, due: Option<Instant>) -> io::Result<()> {
    match (pacer, due) {
        (Some(pacer), Some(due)) => pacer.until(due).await,
        _ => std::future::pending().await,
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Duration;

    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use tokio::io::unix::AsyncFd;
    use tokio::time::Instant;

    /// Asks the kernel to ring this thread's timers on time. Where it refuses, they ring within
    /// its default slack, 50 µs.
    pub(super) fn no_slack() {
        let _ = nix::sys::prctl::set_timerslack(1);
    }

    /// A timerfd, for the runtime's epoll to watch.
    #[derive(Debug)]
    struct Timer(TimerFd);

    impl AsRawFd for Timer {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    #[derive(Debug)]
    pub(super) struct Alarm(AsyncFd<Timer>);

    impl Alarm {
        pub(super) fn new() -> io::Result<Self> {
            let flags = TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC;
            let timer = TimerFd::new(ClockId::CLOCK_MONOTONIC, flags)?;
            // `new` is deprecated for a descriptor closed while still registered; `Timer` owns
            // its descriptor, and `AsyncFd` deregisters it before dropping it. `register`, the
            // replacement, is `unsafe`, which this crate forbids.
            #[allow(deprecated)]
            let watched = AsyncFd::new(Timer(timer))?;
            Ok(Self(watched))
        }

        pub(super) fn set(&self, at: Instant) -> io::Result<()> {
            // Zero would disarm it: a time already past rings at once.
            let wait = at
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let expiration = Expiration::OneShot(TimeSpec::from_duration(wait));
            self.0
                .get_ref()
                .0
                .set(expiration, TimerSetTimeFlags::empty())?;
            Ok(())
        }

        pub(super) async fn ring(&self) -> io::Result<()> {
            loop {
                let mut ready = self.0.readable().await?;
                match ready.try_io(|timer| timer.get_ref().0.wait().map_err(io::Error::from)) {
                    Ok(rung) => return rung,
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;

    use tokio::time::{Instant, sleep_until};

    pub(super) fn no_slack() {}

    #[derive(Debug)]
    pub(super) struct Alarm(std::cell::Cell<Option<Instant>>);

    impl Alarm {
        pub(super) fn new() -> io::Result<Self> {
            Ok(Self(std::cell::Cell::new(None)))
        }

        pub(super) fn set(&self, at: Instant) -> io::Result<()> {
            self.0.set(Some(at));
            Ok(())
        }

        pub(super) async fn ring(&self) -> io::Result<()> {
            if let Some(at) = self.0.get() {
                sleep_until(at).await;
            }
            Ok(())
        }
    }
}

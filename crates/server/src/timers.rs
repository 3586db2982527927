//! [`AcceptTimer`]: the accept loop's timer, kept ahead of its connections' (each has one
//! timer for its whole life, in `door.rs`).
//!
//! The accept loop keeps a timer of its own ahead of them: each new connection sets
//! its timer, and when that would be the runtime's earliest, tokio wakes its driver to take it
//! into account (a write to an eventfd, and one more `epoll_wait`), which on short connections
//! is a wake-up per connection. With the listener's always earlier, a connection's never is.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep};
use upcase_transport::Listener;

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

    /// The listener's next connection, the timer kept ahead meanwhile.
    pub(crate) async fn accept<L: Listener>(
        self: Pin<&mut Self>,
        listener: &mut L,
    ) -> io::Result<L::Incoming> {
        tokio::select! {
            // The accept first: the timer only needs its poll when it fires.
            biased;
            incoming = listener.accept() => incoming,
            never = self.keep() => match never {},
        }
    }

    /// Keeps the timer ahead; never completes.
    async fn keep(mut self: Pin<&mut Self>) -> Infallible {
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

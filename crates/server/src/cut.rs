//! [`DrainEnd`]: the signal, at the end of a drain, for every open connection to answer what it was
//! sent and close.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;

/// Raised once, when the drain timeout runs out.
///
/// A connection waiting for its client is woken through the notification. A connection whose
/// client sends without pause may never wait on its read, so it looks at the flag before each
/// read: a load, where polling the notification would take a lock.
#[derive(Debug, Default)]
pub(crate) struct DrainEnd {
    raised: AtomicBool,
    notify: Arc<Notify>,
}

impl DrainEnd {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the cut is raised.
    pub(crate) fn raised(&self) -> impl Future<Output = ()> + '_ {
        // Made before the flag is read: a raise between the two still wakes it.
        let notified = self.notify.notified();
        async move {
            if !self.is_raised() {
                notified.await;
            }
        }
    }

    /// A notification of the raise that a connection can keep for its whole life: it completes
    /// on a raise from the moment it is made, polled or not. Check
    /// [`is_raised`](Self::is_raised) too, for a raise before it was made.
    pub(crate) fn notified(&self) -> OwnedNotified {
        Arc::clone(&self.notify).notified_owned()
    }
}

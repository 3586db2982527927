//! [`Cut`]: the signal, at the end of a drain, for every open connection to answer what it was
//! sent and close.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Raised once, when the drain timeout runs out.
///
/// A connection waiting for its client is woken through the token. A connection whose client
/// sends without pause may never wait on its read, so it looks at the flag before each read:
/// a load, where asking the token would take a lock.
#[derive(Debug, Default)]
pub(crate) struct Cut {
    raised: AtomicBool,
    token: CancellationToken,
}

impl Cut {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.token.cancel();
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the cut is raised.
    pub(crate) fn raised(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }
}

//! The TCP side of [`serve`](crate::serve): the accept loop, the admission of each connection,
//! its PROXY header, and the drain of the connections still open at shutdown.
//!
//! The accept loop keeps a timer of its own ([`AcceptTimer`]) ahead of its connections' (each
//! has one timer for its whole life, in `door.rs`): each new connection sets its timer, and
//! when that would be the runtime's earliest, tokio wakes its driver to take it into account (a
//! write to an eventfd, and one more `epoll_wait`), which on short connections is a wake-up per
//! connection. With the listener's always earlier, a connection's never is.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep, sleep};
use tokio_util::task::TaskTracker;
use tracing::{info, warn};
use upcase_proto::Transform;
use upcase_transport::{Accepted, Incoming, Listener};

use crate::connection::start_and_serve;
use crate::proxy::serve_proxied;
use crate::service::{ACCEPT_BACKOFF, Admission, Service};
use crate::stats::Trouble;
use crate::totals::Via;

/// Serves the connections of `listener`, a socket of the transport `via`, until `shutdown`
/// completes, then drains them.
pub(crate) async fn serve_listener<L, X>(
    mut listener: L,
    via: Via,
    transform: X,
    service: &Arc<Service>,
    shutdown: impl Future,
) where
    L: Listener,
    X: Transform,
{
    let tasks = TaskTracker::new();
    let ahead = AcceptTimer::new(service.options().idle_timeout);
    tokio::pin!(shutdown, ahead);
    loop {
        // The permit is taken before accepting, so that a full server leaves new connections
        // in the kernel's queue instead of accepting them and making them wait.
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(service.gate().connections()).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            peer = ahead.as_mut().accept(&mut listener) => peer,
        };
        let incoming = match accepted {
            Ok(incoming) => incoming,
            Err(error) => {
                service.log_trouble(Trouble::Accept, || {
                    format!("accept failed: {error}; retrying in {ACCEPT_BACKOFF:?}")
                });
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let admission = Admission::new(Some(permit), service);
        if service.options().proxy_protocol {
            // The client's address comes with the header, which may take a while: its
            // admission waits for it on the connection's own task.
            let proxied = serve_proxied(
                incoming,
                via,
                transform.clone(),
                Arc::clone(service),
                admission,
            );
            drop(tasks.spawn(proxied));
            continue;
        }
        let Some(admission) = service.admit_connection(incoming.addr(), admission) else {
            continue; // Dropping the connection closes it.
        };
        // Admitted before its handshake, so that `--max-connections` and the per-source limit
        // bound the handshakes too.
        let service = Arc::clone(service);
        crate::connection::spawn(&tasks, incoming, via, transform.clone(), service, admission);
    }
    // Close the port now: new clients are refused at once instead of queued for the drain.
    drop(listener);
    drain(tasks, service).await;
}

pin_project! {
    /// The accept loop's timer, kept `idle` ahead of the connections' (see the module docs).
    struct AcceptTimer {
        #[pin]
        timer: Sleep,
        idle: Duration,
    }
}

impl AcceptTimer {
    fn new(idle: Duration) -> Self {
        Self {
            timer: sleep(idle),
            idle,
        }
    }

    /// The listener's next connection, the timer kept ahead meanwhile.
    async fn accept<L: Listener>(
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

/// Waits for the connections of `tasks` to end, within the drain's rules.
pub(crate) async fn drain(tasks: TaskTracker, service: &Service) {
    let drain_timeout = service.options().drain_timeout;
    tasks.close();
    if !tasks.is_empty() {
        info!(
            "waiting up to {drain_timeout:?} for {} open connections to finish",
            tasks.len()
        );
    }
    let cutting = || {
        warn!(
            "{} connections still open after the drain timeout of {drain_timeout:?}; \
             answering what they sent and closing them",
            tasks.len()
        );
    };
    let dropping = || {
        warn!(
            "{} connections did not take their last replies; dropping them",
            tasks.len()
        );
    };
    service.drain(tasks.wait(), cutting, dropping).await;
}

/// Serves one TCP connection accepted elsewhere (by inetd, for one) under `service`'s rules,
/// to its end: with `--proxy-protocol`, after its PROXY header, as a connection accepted here.
pub async fn serve_connection<X>(incoming: Accepted, transform: X, service: &Arc<Service>)
where
    X: Transform,
{
    let admission = Admission::new(None, service);
    let service = Arc::clone(service);
    if service.options().proxy_protocol {
        serve_proxied(incoming, Via::Tcp, transform, service, admission).await;
        return;
    }
    let Some(admission) = service.admit_connection(incoming.addr(), admission) else {
        return;
    };
    start_and_serve(incoming, Via::Tcp, transform, service, admission).await;
}

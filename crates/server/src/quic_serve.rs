//! QUIC's side of [`serve`](crate::serve): each connection an endpoint is asked for, admitted
//! as a TCP connection is (the access lists, `--max-connections`, its source's limit), its
//! handshake under its deadline, then each of its streams served as a TCP connection is.
//! Under a flood of new connections, clients prove their address first (Retry).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;
use upcase_proto::Transform;
use upcase_transport::{QuicIncoming, QuicListener, TransportError};

use crate::connection::Connection;
use crate::service::{Place, Service, shown};
use crate::totals::{Event, Via};

/// Handshakes in progress past which a client must prove its address before the server
/// spends a handshake on it: a flood of Initial packets from forged addresses then costs a
/// Retry packet each, no larger than what came.
const RETRY_ABOVE: usize = 16;

/// Serves the connections of `listener` until `shutdown` completes, then drains them.
pub(crate) async fn serve_quic<X: Transform>(
    listener: QuicListener,
    transform: X,
    service: &Arc<Service>,
    shutdown: impl Future,
) {
    let tasks = TaskTracker::new();
    let stopping = CancellationToken::new();
    let shaking = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            _ = &mut shutdown => break,
            incoming = listener.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        let Some((incoming, place)) = admit(incoming, service, &shaking) else {
            continue;
        };
        let connection = ConnectionTask {
            service: Arc::clone(service),
            transform: transform.clone(),
            stopping: stopping.clone(),
            shaking: Arc::clone(&shaking),
        };
        drop(tasks.spawn(connection.run(incoming, place)));
    }
    stopping.cancel();
    crate::accept::drain(tasks, service).await;
    listener.close();
    listener.wait_idle().await;
}

/// Admits `incoming`, or asks it to prove its address, or refuses it.
fn admit(
    incoming: QuicIncoming,
    service: &Arc<Service>,
    shaking: &AtomicUsize,
) -> Option<(QuicIncoming, Place)> {
    let incoming = if incoming.validated() || shaking.load(Ordering::Relaxed) < RETRY_ABOVE {
        incoming
    } else {
        incoming.retry()?
    };
    // Full: refused at once, as QUIC can say so (TCP's are left in the kernel's queue).
    let Ok(permit) = Arc::clone(&service.connections).try_acquire_owned() else {
        incoming.refuse();
        return None;
    };
    let place = Place::new(Some(permit), service);
    match service.admit_connection(incoming.addr(), place) {
        Some(place) => Some((incoming, place)),
        None => {
            incoming.refuse();
            None
        }
    }
}

/// What a connection's task needs besides the connection.
struct ConnectionTask<X> {
    service: Arc<Service>,
    transform: X,
    /// Cancelled when the server stops taking new work: no new stream is served then.
    stopping: CancellationToken,
    /// Handshakes in progress on this endpoint.
    shaking: Arc<AtomicUsize>,
}

impl<X: Transform> ConnectionTask<X> {
    /// Shakes hands, then serves each stream on a task of its own until the connection ends
    /// or the server stops; `place` holds the connection's admission until then.
    async fn run(self, incoming: QuicIncoming, place: Place) {
        let addr = shown(incoming.addr());
        self.shaking.fetch_add(1, Ordering::Relaxed);
        let started = tokio::select! {
            started = incoming.start() => Some(started),
            () = self.service.cut.raised() => None,
        };
        self.shaking.fetch_sub(1, Ordering::Relaxed);
        let connection = match started {
            Some(Ok(connection)) => connection,
            Some(Err(TransportError::Handshake {
                failure, detail, ..
            })) => {
                self.service.log_handshake_failure(failure, || {
                    format!(
                        "QUIC handshake with {addr} failed ({}): {detail}",
                        failure.name()
                    )
                });
                return;
            }
            Some(Err(error)) => {
                self.service.stats.count(Event::Failed);
                debug!("connection from {addr}: {error}");
                return;
            }
            None => return,
        };
        let streams = TaskTracker::new();
        loop {
            let stream = tokio::select! {
                stream = connection.accept_stream() => stream,
                () = self.stopping.cancelled() => None,
            };
            let Some(stream) = stream else { break };
            let place = Place::new(None, &self.service);
            let exchange = Connection::new(
                stream,
                Via::Quic,
                self.transform.clone(),
                Arc::clone(&self.service),
                place,
            );
            drop(streams.spawn(exchange.serve()));
        }
        streams.close();
        streams.wait().await;
        connection.close("done");
        drop(place);
    }
}

//! QUIC's side of [`serve`](crate::serve): each connection an endpoint is asked for, admitted
//! as a TCP connection is (the access lists, `--max-connections`, its source's limit), its
//! handshake under its deadline, then each of its streams served as a TCP connection is.
//!
//! Every client proves its address first (a Retry, RFC 9000 §8.1.2), which costs it one round
//! trip: until then, the server sends an address nothing but that Retry, smaller than what
//! came from it. Left to quinn, the bound of three times what came holds only to a packet:
//! retransmitting its first flight to an address that never answers, it overshoots by one.

use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;
use upcase_proto::Transform;
use upcase_transport::{QuicIncoming, QuicListener, TransportError};

use crate::connection::Connection;
use crate::service::{Admission, Service, shown};
use crate::totals::{Event, Via};

/// Serves the connections of `listener` until `shutdown` completes, then drains them.
pub(crate) async fn serve_quic<X: Transform>(
    listener: QuicListener,
    transform: X,
    service: &Arc<Service>,
    shutdown: impl Future,
) {
    let tasks = TaskTracker::new();
    let stopping = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        let incoming = tokio::select! {
            _ = &mut shutdown => break,
            incoming = listener.accept() => match incoming {
                Some(incoming) => incoming,
                None => break,
            },
        };
        let Some((incoming, admission)) = admit(incoming, service) else {
            continue;
        };
        let connection = ConnectionTask {
            service: Arc::clone(service),
            transform: transform.clone(),
            stopping: stopping.clone(),
        };
        drop(tasks.spawn(connection.run(incoming, admission)));
    }
    stopping.cancel();
    crate::accept::drain(tasks, service).await;
    listener.close();
    listener.wait_idle().await;
}

/// Admits `incoming`, or asks it to prove its address, or refuses it.
fn admit(incoming: QuicIncoming, service: &Arc<Service>) -> Option<(QuicIncoming, Admission)> {
    if !incoming.validated() {
        // Asked once already, and still not proven: a token that is forged or too old.
        incoming.retry()?.refuse();
        return None;
    }
    // Full: refused at once, as QUIC can say so (TCP's are left in the kernel's queue).
    let Ok(permit) = Arc::clone(service.gate().connections()).try_acquire_owned() else {
        incoming.refuse();
        return None;
    };
    let admission = Admission::new(Some(permit), service);
    match service.admit_connection(incoming.addr(), admission) {
        Some(admission) => Some((incoming, admission)),
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
}

impl<X: Transform> ConnectionTask<X> {
    /// Shakes hands, then serves each stream on a task of its own until the connection ends
    /// or the server stops; `admission` holds the connection's admission until then.
    async fn run(self, incoming: QuicIncoming, admission: Admission) {
        let addr = shown(incoming.addr());
        let started = tokio::select! {
            started = incoming.start() => Some(started),
            () = self.service.cut().raised() => None,
        };
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
                self.service.stats().count(Event::Failed);
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
            let admission = Admission::new(None, &self.service);
            let exchange = Connection::new(
                stream,
                Via::Quic,
                self.transform.clone(),
                Arc::clone(&self.service),
                admission,
            );
            drop(streams.spawn(exchange.serve()));
        }
        streams.close();
        streams.wait().await;
        connection.close("done");
        drop(admission);
    }
}

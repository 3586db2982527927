//! The start of an admitted connection: its transport's own beginning (TLS's handshake),
//! within the drain, counted and logged by kind when it fails; then its service.

use std::sync::Arc;

use tokio_util::task::TaskTracker;
use tracing::debug;
use upcase_proto::Transform;
use upcase_transport::{Incoming, TransportError};

use crate::connection::Connection;
use crate::service::{Admission, Service, shown};
use crate::totals::{Event, Via};

/// Serves `incoming` over `via` on a task of `tasks`: at once when its transport has nothing to
/// start (TCP), so that the task holds only the connection; else after its start.
pub(crate) fn spawn<I: Incoming, X: Transform>(
    tasks: &TaskTracker,
    incoming: I,
    via: Via,
    transform: X,
    service: Arc<Service>,
    admission: Admission,
) {
    match incoming.start_now() {
        Ok(peer) => {
            let connection = Connection::new(peer, via, transform, service, admission);
            drop(tasks.spawn(connection.serve()));
        }
        Err(incoming) => {
            let started = start_and_serve(incoming, via, transform, service, admission);
            drop(tasks.spawn(started));
        }
    }
}

/// Starts `incoming`'s transport, then serves it over `via` to its end.
pub(crate) async fn start_and_serve<I: Incoming, X: Transform>(
    incoming: I,
    via: Via,
    transform: X,
    service: Arc<Service>,
    admission: Admission,
) {
    let Some(peer) = start(incoming, &service).await else {
        return;
    };
    Connection::new(peer, via, transform, service, admission)
        .serve()
        .await;
}

/// `incoming`, started: `None` when its handshake failed or the drain ended first.
async fn start<I: Incoming>(incoming: I, service: &Service) -> Option<I::Peer> {
    let addr = shown(incoming.addr());
    tokio::select! {
        started = incoming.start() => match started {
            Ok(peer) => Some(peer),
            Err(TransportError::Handshake { failure, detail, .. }) => {
                service.log_handshake_failure(failure, || {
                    format!("TLS handshake with {addr} failed ({}): {detail}", failure.name())
                });
                None
            }
            Err(error) => {
                service.stats().count(Event::Failed);
                debug!("connection from {addr}: {error}");
                None
            }
        },
        () = service.cut().raised() => None,
    }
}

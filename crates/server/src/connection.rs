//! [`Connection`]: one stream connection (TCP, TLS, a QUIC stream) from its start to its end,
//! in the shape of mini-redis's `Handler`. [`spawn`] starts it on a task of its own: at once
//! when its transport has nothing to start (TCP), else after its start (TLS's handshake) within
//! the drain, a failure counted and logged by kind. It owns its [`Door`] (the peer behind its
//! deadline, the reply budget and the drain's end), its transform's state and its admission
//! among the open connections, and `Connection::run` reads a chunk, answers it and writes the
//! answer back, until the client finishes, a limit ends it, or the drain does; then it counts
//! how it ended.

use std::future::Future;
use std::sync::Arc;

use tokio_util::task::TaskTracker;
use tracing::debug;
use upcase_proto::{Transform, Transformer};
use upcase_transport::{Incoming, Peer, ReplyBuf, TransportError};

use crate::door::{Door, End, Stop};
use crate::service::{Admission, CUT_GRACE, Service, shown};
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

/// One admitted connection being served. Made in the accept loop and moved into a task of its
/// own, which [`serve`](Self::serve) is.
pub(crate) struct Connection<P, X> {
    door: Door<P>,
    /// The transport it came over, for the counts.
    via: Via,
    stream: Transformer<X>,
    bytes_in: usize,
    bytes_out: usize,
    /// Let go when the connection ends.
    _admission: Admission,
}

impl<P: Peer, X: Transform> Connection<P, X> {
    pub(crate) fn new(
        peer: P,
        via: Via,
        transform: X,
        service: Arc<Service>,
        admission: Admission,
    ) -> Self {
        Self {
            stream: Transformer::new(transform).with_max_line(service.options().max_line),
            door: Door::new(peer, service),
            via,
            bytes_in: 0,
            bytes_out: 0,
            _admission: admission,
        }
    }

    /// Serves the connection to its end, then counts and logs how it ended.
    #[allow(clippy::manual_async_fn)] // See the comment below.
    pub(crate) fn serve(mut self) -> impl Future<Output = ()> + Send {
        // Not an `async fn`: one would move `self` from its argument into a binding of its
        // own, and every open connection would hold it twice. The block works on it in place.
        async move {
            let ended = self.run().await;
            self.count(ended);
        }
    }

    /// Reads a chunk, answers it and writes the answer, until the client finishes, a limit
    /// ends the connection, or the drain does; then closes.
    async fn run(&mut self) -> Result<End, Stop> {
        loop {
            let chunk = self.door.read().await?;
            let finished = chunk.is_empty();
            // A buffer per chunk, given back once sent, so that an idle connection holds none.
            let mut reply = ReplyBuf::new();
            let fed = if finished {
                self.stream.finish(&mut reply);
                Ok(())
            } else {
                self.bytes_in += chunk.len();
                self.stream.feed(chunk, &mut reply)
            };
            self.door.write(&reply).await?;
            self.bytes_out += reply.len();
            drop(reply);
            fed.map_err(Stop::LineTooLong)?;
            if finished {
                return self.door.close().await;
            }
        }
    }

    /// Counts and logs how the connection ended.
    fn count(&self, ended: Result<End, Stop>) {
        let (addr, stats) = (self.door.addr(), &self.door.service().stats());
        let (bytes_in, mut sent) = (self.bytes_in, self.bytes_out);
        match ended {
            Ok(end) => {
                let event = match end {
                    End::Finished => Event::Served,
                    End::Cut => Event::Cut,
                };
                match end {
                    End::Finished => stats.served(self.via),
                    End::Cut => stats.count(Event::Cut),
                }
                let invalid = match self.stream.invalid_bytes() {
                    0 => String::new(),
                    n => format!(", {n} not UTF-8 (passed through)"),
                };
                debug!(
                    "connection from {addr}: {}, {bytes_in} bytes in, {sent} out{invalid}",
                    event.name(),
                );
            }
            Err(Stop::Close(error)) => {
                sent = 0;
                stats.count(Event::Failed);
                debug!("connection from {addr}: {error}");
            }
            Err(stop) => log_stop(self.door.service(), addr, stop),
        }
        stats.bytes(
            self.via,
            bytes_in as u64,
            sent as u64,
            self.stream.invalid_bytes(),
        );
    }
}

/// Counts and logs a connection that ended badly.
fn log_stop(service: &Service, addr: std::net::SocketAddr, stop: Stop) {
    let stats = &service.stats();
    match stop {
        Stop::LineTooLong(error) => {
            // What came before the long line was answered.
            service.log_throttled(Event::LineTooLong, || {
                format!("closing connection from {addr}: {error} (--max-line)")
            });
        }
        Stop::Unread => {
            stats.count(Event::Cut);
            // Dropped with the client's bytes unread, the socket is reset: nothing more can be
            // delivered to a client that takes nothing.
            debug!(
                "dropping connection from {addr}: its replies were not taken within \
                 {CUT_GRACE:?} of the drain's end"
            );
        }
        Stop::Idle => {
            stats.count(Event::IdleTimeout);
            debug!(
                "closing connection from {addr}: idle for {:?} (--idle-timeout)",
                service.options().idle_timeout
            );
        }
        Stop::Close(error) => {
            stats.count(Event::Failed);
            debug!("connection from {addr}: {error}");
        }
        Stop::Io(error) => {
            stats.count(Event::Failed);
            debug!(
                "connection from {addr}: {}",
                upcase_transport::describe(&error)
            );
        }
    }
}

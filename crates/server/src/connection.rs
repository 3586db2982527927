//! [`Connection`]: one TCP connection served to its end, in the shape of mini-redis's
//! `Handler`: made in the accept loop and moved into a task of its own, it owns its peer, its
//! transform's state, its [`Deadline`] and its admission among the open connections, and
//! `Connection::run` reads a chunk, answers it and writes the answer back, until the
//! client finishes, a limit ends it, or the drain does.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;

use tracing::debug;
use upcase_proto::{LineTooLong, Transform, Transformer};
use upcase_transport::{Peer, TransportError, pool};

use crate::service::{Admission, CUT_GRACE, Service};
use crate::timers::{Deadline, Expired, WakeReason};
use crate::totals::{Event, Via};

/// How a connection ended, when it ended well.
#[derive(Debug, Clone, Copy)]
pub(crate) enum End {
    /// The client finished sending.
    Finished,
    /// The drain timeout ran out at shutdown: what the client sent was answered.
    Cut,
}

/// How a connection ended, when it ended badly.
#[derive(Debug)]
pub(crate) enum Stop {
    LineTooLong(LineTooLong),
    /// Nothing moved for the idle timeout.
    Idle,
    /// The drain timeout ran out, and then [`CUT_GRACE`] too while a reply still waited to be
    /// taken.
    Unread,
    Io(io::Error),
    /// Closing failed, after every reply was written.
    Close(TransportError),
}

impl From<Expired> for Stop {
    fn from(expired: Expired) -> Self {
        match expired {
            Expired::Idle => Stop::Idle,
            Expired::Unread => Stop::Unread,
        }
    }
}

/// One chunk read and answered, its reply not yet written.
struct Answered {
    reply: Vec<u8>,
    /// Whether the chunk was the end of the client's stream.
    finished: bool,
    fed: Result<(), LineTooLong>,
}

/// One admitted connection being served. Made in the accept loop and moved into a task of its
/// own, which [`serve`](Self::serve) is.
pub(crate) struct Connection<P, X> {
    peer: P,
    /// The transport it came over, for the counts.
    via: Via,
    stream: Transformer<X>,
    service: Arc<Service>,
    deadline: Pin<Box<Deadline>>,
    end: End,
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
            peer,
            via,
            stream: Transformer::new(transform).with_max_line(service.options.max_line),
            deadline: Deadline::new(&service),
            service,
            end: End::Finished,
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

    /// Reads, answers and writes until the client finishes, a limit ends the connection, or the
    /// drain does; then closes.
    async fn run(&mut self) -> Result<End, Stop> {
        loop {
            let Answered {
                reply,
                finished,
                fed,
            } = self.read_and_answer().await?;
            self.write(reply).await?;
            fed.map_err(Stop::LineTooLong)?;
            if finished {
                self.peer.close().await.map_err(Stop::Close)?;
                return Ok(self.end);
            }
        }
    }

    /// Reads the next chunk, once the budget has room for its reply, and answers it.
    async fn read_and_answer(&mut self) -> Result<Answered, Stop> {
        let Self {
            peer,
            stream,
            service,
            deadline,
            end,
            bytes_in,
            ..
        } = self;
        let read = peer.read();
        tokio::pin!(read);
        // The chunk read, while it waits for room in the budget.
        let mut got: Option<&[u8]> = None;
        let chunk: &[u8] = loop {
            // A chunk is read, and its reply made, only while the budget has room for the
            // reply; otherwise the connection looks again soon (see `budget.rs`). The budget
            // can be spent while a read waits.
            let room = service.budget.has_room();
            if let Some(chunk) = got
                && (room || service.cut.is_raised())
            {
                break chunk;
            }
            if !room {
                deadline.as_mut().retry_budget();
            }
            // `biased`, the read first, so that the timer and the cut (whose poll takes a
            // lock) are polled only when the read waits, not beside every request. A client
            // that sends without pause and reads slowly keeps the read always ready, so once
            // the cut is raised the read is not tried at all.
            let wait = poll_fn(|cx| deadline.as_mut().poll_wait(cx, service, true, room));
            tokio::select! {
                biased;
                read = &mut read, if got.is_none() && room && !service.cut.is_raised() => {
                    got = Some(read.map_err(Stop::Io)?);
                }
                woke = wait => match woke? {
                    WakeReason::Retry => {}
                    // At the end of the drain, the stream ends as if the client had finished:
                    // what it sent is answered.
                    WakeReason::Cut => {
                        *end = End::Cut;
                        break got.unwrap_or(&[]);
                    }
                },
            }
        };
        deadline.as_mut().progress();
        let finished = chunk.is_empty();
        // A buffer per chunk, put down once sent, so that an idle connection holds none.
        let mut reply = pool::take();
        let fed = if finished {
            stream.finish(&mut reply);
            Ok(())
        } else {
            *bytes_in += chunk.len();
            stream.feed(chunk, &mut reply)
        };
        Ok(Answered {
            reply,
            finished,
            fed,
        })
    }

    /// Writes `reply` once the client takes it.
    async fn write(&mut self, reply: Vec<u8>) -> Result<(), Stop> {
        let Self {
            peer,
            service,
            deadline,
            ..
        } = self;
        {
            let write = peer.write(&reply);
            tokio::pin!(write);
            // A reply the socket takes at once is held only within this poll; one that has to
            // wait is counted in the budget until it is sent (see `budget.rs`).
            let mut reserved = None;
            loop {
                // A client that takes no replies keeps this write waiting, so the cut is
                // watched here too.
                let watch_cut = !deadline.cut_seen();
                let wait = poll_fn(|cx| deadline.as_mut().poll_wait(cx, service, watch_cut, true));
                tokio::select! {
                    biased;
                    written = &mut write => {
                        written.map_err(Stop::Io)?;
                        break;
                    }
                    () = std::future::ready(()), if reserved.is_none() => {
                        reserved = Some(service.budget.reserve(reply.capacity()));
                    }
                    woke = wait => {
                        let (WakeReason::Retry | WakeReason::Cut) = woke?;
                    }
                }
            }
        }
        self.bytes_out += reply.len();
        pool::put(reply);
        self.deadline.as_mut().progress();
        Ok(())
    }

    /// Counts and logs how the connection ended.
    fn count(&self, ended: Result<End, Stop>) {
        let (addr, stats) = (self.peer.addr(), &self.service.stats);
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
            Err(stop) => log_stop(&self.service, addr, stop),
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
    let stats = &service.stats;
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
                service.options.idle_timeout
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

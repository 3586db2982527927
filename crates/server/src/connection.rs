//! [`Connection`]: one TCP connection served to its end, in the shape of mini-redis's
//! `Handler`: it owns its peer, its transform's state and its [`Deadline`], and
//! [`run`](Connection::run) reads a chunk, answers it and writes the answer back, until the
//! client finishes, a limit ends it, or the drain does.

use std::io;
use std::pin::Pin;
use std::sync::Arc;

use pin_project_lite::pin_project;
use tracing::debug;
use upcase_proto::{LineTooLong, Transform, Transformer};
use upcase_transport::{Peer, pool};

use crate::service::{CUT_GRACE, Service};
use crate::stats::Event;
use crate::timers::{Deadline, Expired, Woke};

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

pin_project! {
    /// One admitted connection being served.
    pub(crate) struct Connection<'a, P, X> {
        peer: P,
        stream: Transformer<X>,
        service: &'a Service,
        #[pin]
        deadline: Deadline<'a>,
        end: End,
        bytes_in: usize,
        bytes_out: usize,
    }
}

impl<'a, P: Peer, X: Transform> Connection<'a, P, X> {
    pub(crate) fn new(peer: P, transform: X, service: &'a Service) -> Self {
        Self {
            peer,
            stream: Transformer::new(transform).with_max_line(service.options.max_line),
            service,
            deadline: Deadline::new(service),
            end: End::Finished,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Serves the connection to its end.
    pub(crate) async fn run(mut self: Pin<&mut Self>) -> Result<End, Stop> {
        loop {
            let Answered {
                reply,
                finished,
                fed,
            } = self.as_mut().read_and_answer().await?;
            self.as_mut().write(reply).await?;
            fed.map_err(Stop::LineTooLong)?;
            if finished {
                return Ok(self.end);
            }
        }
    }

    /// Reads the next chunk, once the budget has room for its reply, and answers it.
    async fn read_and_answer(self: Pin<&mut Self>) -> Result<Answered, Stop> {
        let this = self.project();
        let service = *this.service;
        let mut deadline = this.deadline;
        let read = this.peer.read();
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
            tokio::select! {
                biased;
                read = &mut read, if got.is_none() && room && !service.cut.is_raised() => {
                    got = Some(read.map_err(Stop::Io)?);
                }
                woke = deadline.as_mut().wait(true, room) => match woke? {
                    Woke::Retry => {}
                    // At the end of the drain, the stream ends as if the client had finished:
                    // what it sent is answered.
                    Woke::Cut => {
                        *this.end = End::Cut;
                        break got.unwrap_or(&[]);
                    }
                },
            }
        };
        deadline.progress();
        let finished = chunk.is_empty();
        // A buffer per chunk, put down once sent, so that an idle connection holds none.
        let mut reply = pool::take();
        let fed = if finished {
            this.stream.finish(&mut reply);
            Ok(())
        } else {
            *this.bytes_in += chunk.len();
            this.stream.feed(chunk, &mut reply)
        };
        Ok(Answered {
            reply,
            finished,
            fed,
        })
    }

    /// Writes `reply` once the client takes it.
    async fn write(self: Pin<&mut Self>, reply: Vec<u8>) -> Result<(), Stop> {
        let this = self.project();
        let mut deadline = this.deadline;
        let service = *this.service;
        {
            let write = this.peer.write(&reply);
            tokio::pin!(write);
            // A reply the socket takes at once is held only within this poll; one that has to
            // wait is counted in the budget until it is sent (see `budget.rs`).
            let mut reserved = None;
            loop {
                // A client that takes no replies keeps this write waiting, so the cut is
                // watched here too.
                let watch_cut = !deadline.cut_seen();
                tokio::select! {
                    biased;
                    written = &mut write => {
                        written.map_err(Stop::Io)?;
                        break;
                    }
                    () = std::future::ready(()), if reserved.is_none() => {
                        reserved = Some(service.budget.reserve(reply.capacity()));
                    }
                    woke = deadline.as_mut().wait(watch_cut, true) => {
                        let (Woke::Retry | Woke::Cut) = woke?;
                    }
                }
            }
        }
        *this.bytes_out += reply.len();
        pool::put(reply);
        deadline.progress();
        Ok(())
    }

    /// Closes the connection after `ended`, then counts and logs how it ended.
    pub(crate) async fn finish(self: Pin<&mut Self>, ended: Result<End, Stop>) {
        let this = self.project();
        let (peer, stream, service) = (this.peer, this.stream, *this.service);
        let (bytes_in, bytes_out) = (*this.bytes_in, *this.bytes_out);
        let addr = peer.addr();
        let stats = &service.stats;
        let mut sent = bytes_out;
        match ended {
            Ok(end) => match peer.close().await {
                Ok(()) => {
                    let event = match end {
                        End::Finished => Event::Served,
                        End::Cut => Event::Cut,
                    };
                    stats.count(event);
                    let invalid = match stream.invalid_bytes() {
                        0 => String::new(),
                        n => format!(", {n} not UTF-8 (passed through)"),
                    };
                    debug!(
                        "connection from {addr}: {}, {bytes_in} bytes in, {sent} out{invalid}",
                        event.name(),
                    );
                }
                Err(error) => {
                    sent = 0;
                    stats.count(Event::Failed);
                    debug!("connection from {addr}: {error}");
                }
            },
            Err(stop) => log_stop(service, addr, stop),
        }
        stats.bytes(bytes_in as u64, sent as u64, stream.invalid_bytes());
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
        Stop::Io(error) => {
            stats.count(Event::Failed);
            debug!(
                "connection from {addr}: {}",
                upcase_transport::describe(&error)
            );
        }
    }
}

/// Serves one admitted connection to the end; `_held` (its permit, its place in the open
/// count, its source slot) is let go when it returns.
pub(crate) async fn serve<P: Peer, X: Transform, H>(
    peer: P,
    transform: X,
    service: Arc<Service>,
    _held: H,
) {
    let connection = Connection::new(peer, transform, &service);
    tokio::pin!(connection);
    let ended = connection.as_mut().run().await;
    connection.finish(ended).await;
}

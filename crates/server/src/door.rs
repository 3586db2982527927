//! [`Door`]: a connection's peer behind the three things that may stop it — its idle
//! deadline, the reply budget shared by every connection, and the drain's end. A read yields
//! the next chunk (empty at the end of the client's stream, or of the drain) or the reason to
//! stop; a write takes a reply and returns once the client has it. [`Connection`]'s loop sees
//! nothing else.
//!
//! Where it is cheap matters here, since every request passes through: a connection has one
//! timer ([`Deadline`]) for its whole life, for the idle timeout, the budget's retry and the
//! drain's grace alike, set afresh only when it fires, so a request costs no timer work; and the
//! waits below poll it only when the read or the write itself is not ready.
//!
//! [`Connection`]: crate::connection::Connection

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep, sleep};
use upcase_proto::LineTooLong;
use upcase_transport::{Peer, TransportError};

use crate::budget::RETRY as BUDGET_RETRY;
use crate::service::{CUT_GRACE, Service};

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

/// Why the deadline ends a connection: a byte, where [`Stop`] is as large as an error, so that
/// the wait polled beside every read and write returns a small value.
enum Expired {
    /// Nothing moved for the idle timeout.
    Idle,
    /// The drain ended, and [`CUT_GRACE`] passed too while a reply still waited to be taken.
    Unread,
}

impl From<Expired> for Stop {
    fn from(expired: Expired) -> Self {
        match expired {
            Expired::Idle => Stop::Idle,
            Expired::Unread => Stop::Unread,
        }
    }
}

/// A connection's peer, guarded.
pub(crate) struct Door<P> {
    peer: P,
    service: Arc<Service>,
    deadline: Pin<Box<Deadline>>,
    end: End,
}

impl<P: Peer> Door<P> {
    pub(crate) fn new(peer: P, service: Arc<Service>) -> Self {
        Self {
            deadline: Deadline::new(&service),
            peer,
            service,
            end: End::Finished,
        }
    }

    /// The client's address.
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.peer.addr()
    }

    /// The service the connection is served under.
    pub(crate) fn service(&self) -> &Service {
        &self.service
    }

    /// The next chunk, once the budget has room for its reply: empty when the client has
    /// finished, or when the drain has ended (what was sent before is answered).
    pub(crate) async fn read(&mut self) -> Result<&[u8], Stop> {
        let Self {
            peer,
            service,
            deadline,
            end,
        } = self;
        let read = peer.read();
        tokio::pin!(read);
        // The chunk read, while it waits for room in the budget.
        let mut got: Option<&[u8]> = None;
        let chunk: &[u8] = loop {
            // A chunk is read, and its reply made, only while the budget has room for the
            // reply; otherwise the connection looks again soon (see `budget.rs`). The budget
            // can be spent while a read waits.
            let room = service.budget().has_room();
            if let Some(chunk) = got
                && (room || service.cut().is_raised())
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
                read = &mut read, if got.is_none() && room && !service.cut().is_raised() => {
                    got = Some(read.map_err(Stop::Io)?);
                }
                woke = wait => match woke? {
                    WakeReason::Retry => {}
                    // At the end of the drain, the stream ends as if the client had finished.
                    WakeReason::Cut => {
                        *end = End::Cut;
                        break got.unwrap_or(&[]);
                    }
                },
            }
        };
        deadline.as_mut().progress();
        Ok(chunk)
    }

    /// Writes `reply`, returning once the client has taken it.
    pub(crate) async fn write(&mut self, reply: &Vec<u8>) -> Result<(), Stop> {
        let Self {
            peer,
            service,
            deadline,
            ..
        } = self;
        let write = peer.write(reply);
        tokio::pin!(write);
        // A reply the socket takes at once is held only within this poll: the first poll of
        // the write comes before any reservation. One that has to wait is counted in the
        // budget until it is sent (see `budget.rs`), from the second poll on.
        let mut reserved = None;
        loop {
            // A client that takes no replies keeps this write waiting, so the cut is watched
            // here too, until it is seen.
            let watch_cut = !deadline.cut_seen;
            let wait = poll_fn(|cx| deadline.as_mut().poll_wait(cx, service, watch_cut, true));
            tokio::select! {
                biased;
                written = &mut write => {
                    written.map_err(Stop::Io)?;
                    break;
                }
                () = std::future::ready(()), if reserved.is_none() => {
                    reserved = Some(service.budget().reserve(reply.capacity()));
                }
                woke = wait => {
                    let (WakeReason::Retry | WakeReason::Cut) = woke?;
                }
            }
        }
        drop(reserved);
        deadline.as_mut().progress();
        Ok(())
    }

    /// Ends the exchange once every reply is out; how the connection ended.
    pub(crate) async fn close(&mut self) -> Result<End, Stop> {
        self.peer.close().await.map_err(Stop::Close)?;
        Ok(self.end)
    }
}

pin_project! {
    /// A connection's idle timeout, the budget's retry and the drain's end, on one timer: made
    /// afresh for each read and write, timers would be registered and unregistered on every
    /// request. It fires at most once per idle period and is then set again from the last
    /// progress; with no idle timeout it is never polled, so never registered.
    struct Deadline {
        #[pin]
        timer: Sleep,
        #[pin]
        cut: OwnedNotified,
        progress: Instant,
        // Once the cut is seen, the timer is set for the end of its grace, and firing then
        // ends the connection: a client that takes no replies cannot hold it open.
        cut_seen: bool,
    }
}

/// Why [`Deadline::poll_wait`] returned.
enum WakeReason {
    /// The budget's retry came: look again whether it has room.
    Retry,
    /// The drain ended.
    Cut,
}

impl Deadline {
    /// On the heap: the timer and the notification must not move once polled, and the
    /// connection that holds them moves into its task.
    fn new(service: &Service) -> Pin<Box<Self>> {
        Box::pin(Self {
            timer: sleep(service.options().idle_timeout),
            cut: service.cut().notified(),
            progress: Instant::now(),
            cut_seen: false,
        })
    }

    /// The connection moved: the idle period starts again.
    #[inline]
    fn progress(self: Pin<&mut Self>) {
        *self.project().progress = Instant::now();
    }

    /// The budget has no room: look again after its retry, which is not idleness.
    fn retry_budget(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.cut_seen {
            *this.progress = Instant::now();
            this.timer.reset(*this.progress + BUDGET_RETRY);
        }
    }

    /// Polls the timer, and the drain's end while `watch_cut`. `room` says whether the budget
    /// has room: without it, the timer is the budget's retry. Made to sit beside a read or a
    /// write in a `select!`, through `poll_fn`, with no state of its own.
    #[inline]
    fn poll_wait(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        service: &Service,
        watch_cut: bool,
        room: bool,
    ) -> Poll<Result<WakeReason, Expired>> {
        let idle = service.options().idle_timeout;
        let armed = !idle.is_zero() || self.cut_seen || !room;
        while armed && self.as_mut().project().timer.poll(cx).is_ready() {
            if !room && !self.cut_seen {
                return Poll::Ready(Ok(WakeReason::Retry));
            }
            self.as_mut().rearm_or_expire(idle)?;
        }
        if watch_cut
            && (service.cut().is_raised() || self.as_mut().project().cut.poll(cx).is_ready())
        {
            self.see_cut();
            return Poll::Ready(Ok(WakeReason::Cut));
        }
        Poll::Pending
    }

    /// When the timer fires: the end once the cut's grace is over, or if nothing moved for
    /// `idle`; otherwise the timer is set for `idle` after the last progress.
    fn rearm_or_expire(self: Pin<&mut Self>, idle: std::time::Duration) -> Result<(), Expired> {
        if self.cut_seen {
            return Err(Expired::Unread);
        }
        let deadline = self.progress + idle;
        if Instant::now() >= deadline {
            return Err(Expired::Idle);
        }
        self.project().timer.reset(deadline);
        Ok(())
    }

    /// When the cut is first seen: the timer is set for the end of the grace.
    fn see_cut(self: Pin<&mut Self>) {
        let this = self.project();
        if !*this.cut_seen {
            *this.cut_seen = true;
            this.timer.reset(Instant::now() + CUT_GRACE);
        }
    }
}

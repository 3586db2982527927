//! Stream load: a window of requests in flight on one connection, TCP or TLS.
//!
//! A connection is one task that writes and reads by turns, never waiting on one while the
//! other can move, so that a large window cannot fill both socket buffers and stall. Its
//! requests are matched to replies in order, as TCP keeps them.

use std::collections::VecDeque;
use std::io;
use std::pin::pin;

use tokio::time::{Instant, sleep_until};

use crate::load::{FAR, Load, Pending, Schedule, Sending};
use crate::pacer::{Pacer, pace};
use crate::payload::Checker;
use crate::tally::Shard;
use upcase_transport::Wire;

/// One persistent connection, until the run ends and its replies are in, or until it fails.
pub(crate) async fn connection(
    mut wire: impl Wire,
    load: &Load,
    schedule: Schedule,
    shard: &Shard,
) -> io::Result<()> {
    let mut conn = Conn::new(load, schedule);
    let mut timer = pin!(sleep_until(load.start));
    let mut pacer = Pacer::for_schedule(&schedule)?;
    loop {
        // The time replies were just read at serves as the next requests' send time: a clock
        // read fewer a request.
        let now = conn.read_at.take().unwrap_or_else(Instant::now);
        conn.queue_due(now, shard);
        conn.write(&mut wire)?;
        match conn.read(&mut wire, shard)? {
            Read::Closed => {
                shard.lost(conn.in_flight.len() as u64);
                return Ok(());
            }
            Read::Got => continue,
            Read::Nothing => {}
        }
        if conn.sending.ended && conn.in_flight.is_empty() {
            conn.sending.finish(load, shard);
            return Ok(());
        }
        let wake = conn.wake_at();
        if timer.is_elapsed() || wake < timer.deadline() {
            timer.as_mut().reset(wake);
        }
        let next_due = conn.sending.next_due(conn.free());
        tokio::select! {
            biased;
            ready = wire.socket().readable() => ready?,
            ready = wire.socket().writable(), if conn.has_output() || wire.backlog() => ready?,
            rung = pace(&mut pacer, next_due), if next_due.is_some() => rung?,
            () = &mut timer => {
                if conn.timed_out(Instant::now()) {
                    // Replies come in order: past a lost one, none can be matched.
                    shard.lost(conn.in_flight.len() as u64);
                    let _ = socket2::SockRef::from(wire.socket()).shutdown(std::net::Shutdown::Write);
                    return Ok(());
                }
            }
        }
    }
}

/// What one read found.
enum Read {
    /// The server closed the connection.
    Closed,
    /// Bytes came.
    Got,
    /// Nothing was waiting.
    Nothing,
}

/// A connection's state between turns.
struct Conn<'a> {
    load: &'a Load,
    sending: Sending,
    /// Requests written, oldest first.
    in_flight: VecDeque<Pending>,
    /// Bytes of requests not yet written, from `out_at`.
    out: Vec<u8>,
    out_at: usize,
    /// Bytes of replies read and not yet matched; its capacity is what one read may take.
    replies: Vec<u8>,
    checker: Checker,
    /// When the last replies were read, if the loop has not yet looked at the clock since.
    read_at: Option<Instant>,
}

impl<'a> Conn<'a> {
    fn new(load: &'a Load, schedule: Schedule) -> Self {
        Self {
            load,
            sending: Sending::new(schedule),
            in_flight: VecDeque::with_capacity(load.window),
            out: Vec::with_capacity(load.size * load.window),
            out_at: 0,
            replies: Vec::with_capacity((2 * load.size).max(64 * 1024)),
            checker: Checker::new(load.check),
            read_at: None,
        }
    }

    /// Queues every request that is due and has a slot in the window.
    fn queue_due(&mut self, now: Instant, shard: &Shard) {
        let Self {
            load,
            sending,
            in_flight,
            out,
            checker,
            ..
        } = self;
        sending.queue_due(
            load,
            now,
            shard,
            load.window - in_flight.len(),
            |seq, due| {
                checker.append_request(seq, load.size, out);
                in_flight.push_back(Pending {
                    seq,
                    due,
                    sent: now,
                });
            },
        );
    }

    /// Slots free in the window.
    fn free(&self) -> usize {
        self.load.window - self.in_flight.len()
    }

    fn has_output(&self) -> bool {
        self.out_at < self.out.len()
    }

    /// Writes what the socket takes now.
    fn write(&mut self, wire: &mut impl Wire) -> io::Result<()> {
        if !self.has_output() {
            return wire.flush();
        }
        self.out_at += wire.send(&self.out[self.out_at..])?;
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
        }
        Ok(())
    }

    /// Reads what has come, and matches each whole reply to its request.
    fn read(&mut self, wire: &mut impl Wire, shard: &Shard) -> io::Result<Read> {
        match wire.receive(&mut self.replies)? {
            None => return Ok(Read::Nothing),
            Some(0) => return Ok(Read::Closed),
            Some(_) => {}
        }
        let size = self.load.size;
        let now = Instant::now();
        let mut taken = 0;
        while let Some(len) = self.checker.reply_len(size, &self.replies[taken..]) {
            let Some(pending) = self.in_flight.pop_front() else {
                // A reply to nothing: the server is not answering this protocol.
                shard.reply(false, now, now, now);
                return Ok(Read::Closed);
            };
            let right = self
                .checker
                .check(pending.seq, size, &self.replies[taken..taken + len]);
            shard.reply(right, pending.due, pending.sent, now);
            taken += len;
        }
        self.replies.drain(..taken);
        self.read_at = Some(now);
        Ok(Read::Got)
    }

    /// When to look again without the socket's or the pacer's help: the end of the run, or
    /// the oldest request's timeout, whichever is first.
    fn wake_at(&self) -> Instant {
        let far = self.load.start + FAR;
        let timeout = self
            .in_flight
            .front()
            .map_or(far, |oldest| oldest.sent + self.load.timeout);
        match self.load.deadline {
            Some(deadline) if !self.sending.ended => timeout.min(deadline),
            _ => timeout,
        }
    }

    fn timed_out(&self, now: Instant) -> bool {
        self.in_flight
            .front()
            .is_some_and(|oldest| now >= oldest.sent + self.load.timeout)
    }
}

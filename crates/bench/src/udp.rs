//! UDP load: a window of datagrams in flight on one connected socket. A reply says by its
//! number which request it answers; one that does not come within the timeout is counted lost
//! and its slot reused.

use std::collections::VecDeque;
use std::io;
use std::pin::pin;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{Instant, sleep_until};

use crate::datagrams::{Receiver, Sender};
use crate::load::{FAR, Load, Pending, Schedule, Sending};
use crate::pacer::{Pacer, pace};
use crate::payload::{Checker, sequence};
use crate::tally::Shard;

/// Requests sent and not yet answered or lost, by number: entry `i` is request `base + i`,
/// `None` once answered. Numbers only grow, so the oldest is always at the front.
#[derive(Debug, Default)]
struct InFlight {
    entries: VecDeque<Option<Pending>>,
    base: u64,
    waiting: usize,
}

impl InFlight {
    fn push(&mut self, pending: Pending) {
        self.entries.push_back(Some(pending));
        self.waiting += 1;
    }

    /// The request numbered `seq`, if it is still waiting.
    fn answer(&mut self, seq: u64) -> Option<Pending> {
        let at = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let pending = self.entries.get_mut(at)?.take()?;
        self.waiting -= 1;
        self.trim();
        Some(pending)
    }

    /// Counts as lost every request sent `timeout` or more before `now`; how many.
    fn expire(&mut self, now: Instant, timeout: Duration) -> u64 {
        let mut lost = 0;
        while let Some(Some(oldest)) = self.entries.front() {
            if now < oldest.sent + timeout {
                break;
            }
            self.entries.pop_front();
            self.base += 1;
            self.waiting -= 1;
            lost += 1;
            self.trim();
        }
        lost
    }

    fn trim(&mut self) {
        while let Some(None) = self.entries.front() {
            self.entries.pop_front();
            self.base += 1;
        }
    }

    fn oldest(&self) -> Option<Pending> {
        self.entries.front().copied().flatten()
    }
}

/// Matches each reply the last receive took to its request, and counts it; how many came.
fn match_replies(
    receiver: &Receiver,
    in_flight: &mut InFlight,
    checker: &mut Checker,
    load: &Load,
    shard: &Shard,
    now: Instant,
) -> usize {
    let mut got = 0;
    let numbered = checker.numbered();
    for reply in receiver.replies() {
        got += 1;
        let seq = if numbered {
            sequence(reply)
        } else if let Some(oldest) = in_flight.oldest() {
            Some(oldest.seq)
        } else {
            continue; // A late reply to a request already counted lost.
        };
        let Some(seq) = seq else {
            shard.reply(false, now, now, now); // Its number is gone: it answers nothing.
            continue;
        };
        // A late reply to a request already counted lost matches nothing: ignore it.
        let Some(pending) = in_flight.answer(seq) else {
            continue;
        };
        let right = checker.check(seq, load.size, reply);
        shard.reply(right, pending.due, pending.sent, now);
    }
    got
}

/// One socket, until the run ends and its replies are in or lost.
pub(crate) async fn socket(
    socket: UdpSocket,
    load: &Load,
    schedule: Schedule,
    shard: &Shard,
) -> io::Result<()> {
    let sender = Sender::new(&socket, load.size);
    let mut receiver = Receiver::new(load.size);
    let mut in_flight = InFlight::default();
    let mut checker = Checker::new(load.check);
    // Requests queued and not yet sent, back to back.
    let mut out: Vec<u8> = Vec::with_capacity(load.size * load.window);
    let mut sending = Sending::new(schedule);
    let mut timer = pin!(sleep_until(load.start));
    let mut pacer = Pacer::for_schedule(&schedule)?;
    loop {
        let now = Instant::now();
        let free = load.window.saturating_sub(in_flight.waiting);
        sending.queue_due(load, now, shard, free, |seq, due| {
            checker.append_request(seq, load.size, &mut out);
            in_flight.push(Pending {
                seq,
                due,
                sent: now,
            });
        });
        let sent = sender.send(&socket, &out)?;
        out.drain(..sent * load.size);

        receiver.receive(&socket)?;
        let now = Instant::now();
        let got = match_replies(&receiver, &mut in_flight, &mut checker, load, shard, now);
        if got > 0 || sent > 0 {
            continue;
        }
        let lost = in_flight.expire(now, load.timeout);
        if lost > 0 {
            // Their slots are free: the next requests go before any wait.
            shard.lost(lost);
            continue;
        }
        if sending.ended && in_flight.waiting == 0 {
            sending.finish(load, shard);
            return Ok(());
        }
        let wake = wake_at(load, &in_flight, sending.ended);
        if timer.is_elapsed() || wake < timer.deadline() {
            timer.as_mut().reset(wake);
        }
        let next_due = sending.next_due(load.window.saturating_sub(in_flight.waiting));
        tokio::select! {
            biased;
            ready = socket.readable() => ready?,
            ready = socket.writable(), if !out.is_empty() => ready?,
            rung = pace(&mut pacer, next_due), if next_due.is_some() => rung?,
            () = &mut timer => {}
        }
    }
}

/// When to look again without the socket's or the pacer's help: the end of the run, or the
/// oldest request's timeout, whichever is first.
fn wake_at(load: &Load, in_flight: &InFlight, ended: bool) -> Instant {
    let far = load.start + FAR;
    let timeout = in_flight
        .oldest()
        .map_or(far, |oldest| oldest.sent + load.timeout);
    match load.deadline {
        Some(deadline) if !ended => timeout.min(deadline),
        _ => timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_answers_each_request_once_and_expires_the_oldest() {
        let start = Instant::now();
        let mut in_flight = InFlight::default();
        for k in 0..4 {
            let at = start + Duration::from_millis(k);
            in_flight.push(Pending {
                seq: k,
                due: at,
                sent: at,
            });
        }
        assert!(in_flight.answer(2).is_some());
        assert!(in_flight.answer(2).is_none(), "answered once");
        assert!(in_flight.answer(9).is_none(), "never sent");
        assert_eq!(in_flight.waiting, 3);
        // 0 and 1 time out; 2 was answered; 3 is still young.
        let lost = in_flight.expire(start + Duration::from_millis(1001), Duration::from_secs(1));
        assert_eq!((lost, in_flight.waiting), (2, 1));
        assert!(
            in_flight.answer(0).is_none(),
            "a lost request's late reply matches nothing"
        );
        assert!(in_flight.answer(3).is_some());
        assert_eq!((in_flight.waiting, in_flight.entries.len()), (0, 0));
    }
}

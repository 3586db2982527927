//! Datagrams: each is answered whole and at once, so the rules for one are a plain function,
//! [`Service::answer_datagram`], shared by the listener loop of [`serve`](crate::serve) and by
//! [`serve_blocking_udp`], which runs them on a thread of its own. A datagram counts as served
//! only once its reply has left: one the system refuses to send (a forged broadcast source) is
//! a failure.

use std::net::SocketAddr;

use tracing::debug;
use upcase_proto::{Transform, Transformer, max_datagram};
use upcase_transport::{Peer, PeerKind, TransportError};

use crate::echo::EchoLoops;
use crate::service::{Service, shown};
use crate::stats::{Event, Trouble};

/// A reply to a datagram may be at most this many times its request (RFC 9000 §8 sets the same
/// bound for QUIC): more would let a forged request make the server a traffic amplifier.
pub(crate) const MAX_AMPLIFICATION: usize = 3;

/// A reply about to be sent, and what to count once it has been.
pub(crate) struct Answer {
    /// The reply.
    pub(crate) reply: Vec<u8>,
    /// What it answers, for the count and the log once it is sent.
    pub(crate) sent: Sent,
}

/// What a datagram's reply counts for once it has left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    from: SocketAddr,
    bytes_in: usize,
    bytes_out: usize,
    invalid: u64,
}

impl Service {
    /// The reply to `request`, a datagram from `from` to the service's port `own_port`, or
    /// `None` when it gets none: refused by the access list, the reflection rules, the echo-loop
    /// rule of `loops` (this socket's) or the rate limit, a line over `max_line`, or a reply
    /// too large or too much larger than the request. Counts and logs a refusal; a reply is
    /// counted by [`sent`](Self::sent) once it has left.
    pub(crate) fn answer_datagram<X: Transform>(
        &self,
        transform: X,
        from: SocketAddr,
        request: &[u8],
        own_port: u16,
        loops: &mut EchoLoops,
    ) -> Option<Answer> {
        self.admit(from, PeerKind::Datagram, own_port)?;
        let stats = self.stats();
        let client = shown(from);
        let mut stream = Transformer::new(transform).with_max_line(self.options().max_line);
        let mut reply = Vec::with_capacity(request.len());
        let fed = stream.feed(request, &mut reply);
        stream.finish(&mut reply);
        let invalid = stream.invalid_bytes();
        // Each refusal's message is made only if the throttle lets it be logged: under a flood
        // of them, most are only counted.
        let max = max_datagram(from);
        let refused = if let Err(error) = fed {
            self.log_throttled(Event::LineTooLong, || {
                format!("dropped datagram from {client}: {error} (--max-line)")
            });
            true
        } else if reply.len() > MAX_AMPLIFICATION * request.len() {
            self.log_throttled(Event::Amplification, || {
                format!(
                    "dropped the reply to {client}: {} bytes would be more than {MAX_AMPLIFICATION} times its {}-byte request",
                    reply.len(),
                    request.len()
                )
            });
            true
        } else if reply.len() > max {
            self.log_throttled(Event::ReplyTooLarge, || {
                let too_large = TransportError::ReplyTooLarge {
                    peer: client,
                    len: reply.len(),
                    max,
                };
                too_large.to_string()
            });
            true
        } else if loops.is_loop(from, request, &reply) {
            self.log_throttled(Event::EchoLoop, || {
                format!(
                    "dropped the reply to {client}: it sent back the last {} replies as they \
                     were sent, at once, as an echo service caught in a loop with this one does",
                    crate::echo::LOOP_STREAK
                )
            });
            true
        } else {
            false
        };
        if refused {
            stats.bytes(request.len() as u64, 0, invalid);
            return None;
        }
        let sent = Sent {
            from,
            bytes_in: request.len(),
            bytes_out: reply.len(),
            invalid,
        };
        Some(Answer { reply, sent })
    }

    /// Counts and logs a reply that has left: served, or, with the system's `refusal`, failed.
    pub(crate) fn sent(&self, sent: Sent, refusal: Option<&dyn std::fmt::Display>) {
        let stats = self.stats();
        let client = shown(sent.from);
        if let Some(error) = refusal {
            stats.count(Event::Failed);
            stats.bytes(sent.bytes_in as u64, 0, sent.invalid);
            debug!("datagram from {client}: the reply could not be sent: {error}");
            return;
        }
        stats.count(Event::Served);
        debug!(
            "datagram from {client}: served, {} bytes in, {} out{}",
            sent.bytes_in,
            sent.bytes_out,
            match sent.invalid {
                0 => String::new(),
                n => format!(", {n} not UTF-8 (passed through)"),
            }
        );
        stats.bytes(sent.bytes_in as u64, sent.bytes_out as u64, sent.invalid);
    }
}

/// Answers the datagram `peer` from a listener of the event loop.
pub(crate) async fn answer_peer<P: Peer, X: Transform>(
    mut peer: P,
    transform: X,
    service: &Service,
    own_port: u16,
    loops: &mut EchoLoops,
) {
    let from = peer.addr();
    let request = match peer.read().await {
        Ok(request) => request,
        Err(error) => {
            service.stats().count(Event::Failed);
            debug!("datagram from {}: {error}", shown(from));
            return;
        }
    };
    let Some(Answer { reply, sent }) =
        service.answer_datagram(transform, from, request, own_port, loops)
    else {
        return;
    };
    // The event loop's socket sends a batch's replies together, at the last one's close, so a
    // refusal there is counted against the batch's last datagram.
    let outcome = match peer.write_owned(reply).await {
        Ok(()) => peer.close().await,
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => service.sent(sent, None),
        Err(error) => service.sent(sent, Some(&error)),
    }
}

/// Serves `socket` on the calling thread under `service`'s rules, answering each datagram with
/// a copy of `transform`, until the socket's [`UdpStopper`](upcase_transport::UdpStopper) is
/// told to stop. The replies to one batch leave together.
#[cfg(target_os = "linux")]
pub fn serve_blocking_udp<X: Transform>(
    mut socket: upcase_transport::BlockingUdp,
    transform: X,
    service: &Service,
) {
    use upcase_transport::BatchError;

    use crate::service::ACCEPT_BACKOFF;

    let own_port = socket.local_addr().map_or(0, |addr| addr.port());
    let mut loops = EchoLoops::default();
    let mut batch = Vec::new();
    loop {
        let answered = socket.answer_batch(|from, request| {
            let answer =
                service.answer_datagram(transform.clone(), from, request, own_port, &mut loops)?;
            batch.push(answer.sent);
            Some(answer.reply)
        });
        let refusal = match &answered {
            Err(BatchError::Send(error)) => Some(error),
            _ => None,
        };
        for sent in batch.drain(..) {
            match refusal {
                Some(error) if socket.unsent().contains(&sent.from) => {
                    service.sent(sent, Some(error));
                }
                _ => service.sent(sent, None),
            }
        }
        match answered {
            Ok(true) | Err(BatchError::Send(_)) => {}
            Ok(false) => return,
            Err(error @ BatchError::Receive(_)) => {
                service.log_trouble(Trouble::Receive, || {
                    format!("{error}; retrying in {ACCEPT_BACKOFF:?}")
                });
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

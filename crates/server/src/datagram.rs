//! Datagrams: each is answered whole and at once, so the rules for one are a plain function,
//! [`Service::answer_datagram`], shared by the listener loop of [`serve`](crate::serve) and by
//! [`serve_blocking_udp`], which runs them on a thread of its own.

use std::net::SocketAddr;

use tracing::debug;
use upcase_proto::{Transform, Transformer, max_datagram};
use upcase_transport::{Peer, PeerKind, TransportError};

use crate::run::{MAX_AMPLIFICATION, Service, shown};
use crate::stats::Event;

impl Service {
    /// The reply to `request`, a datagram from `from` to the service's port `own_port`, or
    /// `None` when it gets none: refused by the access list, the reflection rules or the rate
    /// limit, a line over `max_line`, or a reply too large or too much larger than the request.
    /// Counts what happened and logs it, as for a connection.
    pub(crate) fn answer_datagram<X: Transform>(
        &self,
        transform: X,
        from: SocketAddr,
        request: &[u8],
        own_port: u16,
    ) -> Option<Vec<u8>> {
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
        } else {
            false
        };
        if refused {
            stats.bytes(request.len() as u64, 0, invalid);
            return None;
        }
        stats.count(Event::Served);
        debug!(
            "datagram from {client}: served, {} bytes in, {} out{}",
            request.len(),
            reply.len(),
            match invalid {
                0 => String::new(),
                n => format!(", {n} not UTF-8 (passed through)"),
            }
        );
        stats.bytes(request.len() as u64, reply.len() as u64, invalid);
        Some(reply)
    }
}

/// Answers the datagram `peer` from a listener of the event loop.
pub(crate) async fn answer_peer<P: Peer, X: Transform>(
    mut peer: P,
    transform: X,
    service: &Service,
    own_port: u16,
) {
    let from = peer.addr();
    let request = match peer.read().await {
        Ok(request) => request,
        Err(error) => return failed(service, from, &error.into()),
    };
    let Some(reply) = service.answer_datagram(transform, from, request, own_port) else {
        return;
    };
    let sent = match peer.write_owned(reply).await {
        Ok(()) => peer.close().await,
        Err(error) => Err(error.into()),
    };
    if let Err(error) = sent {
        failed(service, from, &error);
    }
}

fn failed(service: &Service, from: SocketAddr, error: &TransportError) {
    service.stats().count(Event::Failed);
    debug!("datagram from {}: {error}", shown(from));
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

    use crate::run::ACCEPT_BACKOFF;

    let own_port = socket.local_addr().map_or(0, |addr| addr.port());
    loop {
        let answered = socket.answer_batch(|from, request| {
            service.answer_datagram(transform.clone(), from, request, own_port)
        });
        match answered {
            Ok(true) => {}
            Ok(false) => return,
            Err(error @ BatchError::Send(_)) => {
                service.stats().count(Event::Failed);
                debug!("{error}");
            }
            Err(error @ BatchError::Receive(_)) => {
                tracing::warn!("{error}; retrying in {ACCEPT_BACKOFF:?}");
                std::thread::sleep(ACCEPT_BACKOFF);
            }
        }
    }
}

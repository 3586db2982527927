//! Where a datagram gets its reply: every UDP rule of the server in one place, and the two
//! loops that apply them to a socket's batches ([`serve_datagrams`] on the event loop,
//! [`serve_blocking_udp`] on a thread of its own).
//!
//! A datagram is answered whole and at once, so the rules for one are a plain function,
//! [`Answerer::answer`]: the access lists, the reflection rules of docs/PROTOCOL.md, the rate
//! per source, the line limit, the protocol's amplification bound
//! ([`MAX_AMPLIFICATION`](upcase_proto::MAX_AMPLIFICATION)) and the echo loop rule. The
//! transport names each reply that did not leave ([`Unsent`]): a datagram counts as served
//! only once its reply has left; one too large for a datagram, or one the system refuses to
//! send (a forged broadcast source), is not.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tracing::debug;
use upcase_proto::{MAX_AMPLIFICATION, Transform, Transformer, within_amplification};
use upcase_transport::{
    Answer, BatchError, Datagram, ServerSocket, TransportError, UdpServer, Unsent, Why,
};

use crate::echo::{EchoLoops, LOOP_STREAK, LOOP_WINDOW};
use crate::service::{ACCEPT_BACKOFF, Service, shown};
use crate::stats::Trouble;
use crate::totals::{Event, Via};

/// What a datagram's reply counts for once it has left.
#[derive(Debug, Clone, Copy)]
struct Sent {
    from: SocketAddr,
    bytes_in: usize,
    bytes_out: usize,
    invalid: u64,
    /// Why it did not leave, once the transport says so.
    unsent: Option<Why>,
}

/// Why a reply does not go: a rule's reason here, or the transport's size limit (where the
/// gate's `Refusal` is a peer's).
enum Withheld {
    /// More than [`MAX_AMPLIFICATION`] times its request.
    Amplification { len: usize, asked: usize },
    /// Larger than a datagram to its client can be.
    TooLarge { len: usize, max: usize },
    /// Its client is an echo service caught in a loop with this one.
    EchoLoop,
}

impl Withheld {
    fn event(&self) -> Event {
        match self {
            Withheld::Amplification { .. } => Event::Amplification,
            Withheld::TooLarge { .. } => Event::ReplyTooLarge,
            Withheld::EchoLoop => Event::EchoLoop,
        }
    }

    fn message(&self, client: SocketAddr) -> String {
        match *self {
            Withheld::Amplification { len, asked } => format!(
                "dropped the reply to {client}: {len} bytes would be more than \
                 {MAX_AMPLIFICATION} times its {asked}-byte request"
            ),
            Withheld::TooLarge { len, max } => TransportError::ReplyTooLarge {
                peer: client,
                len,
                max,
            }
            .to_string(),
            Withheld::EchoLoop => format!(
                "dropped the reply to {client}: it sent back the last {LOOP_STREAK} replies as \
                 they were sent, each within {LOOP_WINDOW:?}, as an echo service caught in a loop \
                 with this one does"
            ),
        }
    }
}

/// One UDP socket's answers under `service`'s rules, batch by batch.
struct Answerer<'a, X> {
    service: &'a Service,
    transform: X,
    /// The socket's own port, which the reflection rules compare sources with.
    own_port: u16,
    /// This socket's echo-loop watch.
    loops: EchoLoops,
    /// The replies of the batch being answered, to count once they have left.
    batch: Vec<Sent>,
}

/// After a batch: go on, wait a moment first, or stop serving.
enum AfterBatch {
    Go,
    /// The receive failed; retrying at once would only spin.
    Backoff,
    Stop,
}

impl<'a, X: Transform> Answerer<'a, X> {
    fn new(service: &'a Service, transform: X, socket: &impl ServerSocket) -> Self {
        Self {
            service,
            transform,
            own_port: socket.local_addr().map_or(0, |addr| addr.port()),
            loops: EchoLoops::default(),
            batch: Vec::new(),
        }
    }

    /// The answer to `datagram`: silence when it is refused by the access list, the
    /// reflection rules, the echo-loop rule or the rate limit, holds a line over the limit, or
    /// its reply would be too much larger than it. Counts and logs a refusal; a reply is
    /// counted once the transport says what became of it.
    fn answer(&mut self, datagram: Datagram<'_>) -> Answer {
        let Datagram {
            from,
            to,
            payload: request,
        } = datagram;
        let service = self.service;
        if service.admit_datagram(from, to, self.own_port).is_none() {
            return Answer::Silence;
        }
        let mut stream =
            Transformer::new(self.transform.clone()).with_max_line(service.options().max_line);
        let mut reply = Vec::with_capacity(request.len());
        let fed = stream.feed(request, &mut reply);
        stream.finish(&mut reply);
        let invalid = stream.invalid_bytes();
        if let Err(error) = fed {
            service.log_throttled(Event::LineTooLong, || {
                format!(
                    "dropped datagram from {}: {error} (--max-line)",
                    shown(from)
                )
            });
        } else if let Some(withheld) = self.withheld(from, request, &reply) {
            // The message is made only if the throttle lets it be logged: under a flood of
            // refusals, most are only counted.
            service.log_throttled(withheld.event(), || withheld.message(shown(from)));
        } else {
            self.batch.push(Sent {
                from,
                bytes_in: request.len(),
                bytes_out: reply.len(),
                invalid,
                unsent: None,
            });
            return Answer::Reply(reply);
        }
        service
            .stats()
            .bytes(Via::Udp, request.len() as u64, 0, invalid);
        Answer::Silence
    }

    /// Why `reply` may not be sent, if it may not.
    fn withheld(&mut self, from: SocketAddr, request: &[u8], reply: &[u8]) -> Option<Withheld> {
        let (len, asked) = (reply.len(), request.len());
        if !within_amplification(request, reply) {
            Some(Withheld::Amplification { len, asked })
        } else if self.loops.is_loop(from, request, reply) {
            Some(Withheld::EchoLoop)
        } else {
            None
        }
    }

    /// Counts the batch's replies once `answered` says how the batch went and `unsent` which
    /// of its replies did not leave, and says whether to go on.
    fn account(&mut self, answered: Result<bool, BatchError>, unsent: &[Unsent]) -> AfterBatch {
        let refusal = match &answered {
            Err(BatchError::Send(error)) => Some(error),
            _ => None,
        };
        // (A batch stopped while it waited for datagrams has no replies: `unsent` is the last
        // batch's, and names none of these.)
        for unsent in unsent {
            if let Some(sent) = self.batch.get_mut(unsent.reply) {
                sent.unsent = Some(unsent.why);
            }
        }
        for sent in self.batch.drain(..) {
            sent_reply(self.service, sent, refusal);
        }
        match answered {
            Ok(true) | Err(BatchError::Send(_)) => AfterBatch::Go,
            Ok(false) => AfterBatch::Stop,
            Err(error @ BatchError::Receive(_)) => {
                self.service.log_trouble(Trouble::Receive, || {
                    format!("{error}; retrying in {ACCEPT_BACKOFF:?}")
                });
                AfterBatch::Backoff
            }
        }
    }
}

/// Counts and logs a reply: served once it has left, or not (`refusal`: the system's first
/// refusal of the batch).
fn sent_reply(service: &Service, sent: Sent, refusal: Option<&io::Error>) {
    let client = shown(sent.from);
    // A reply that did not leave counts its request's bytes, and none out.
    let count_request = || {
        service
            .stats()
            .bytes(Via::Udp, sent.bytes_in as u64, 0, sent.invalid)
    };
    match sent.unsent {
        None => {}
        Some(Why::TooLarge { len, max }) => {
            let withheld = Withheld::TooLarge { len, max };
            service.log_throttled(withheld.event(), || withheld.message(client));
            return count_request();
        }
        Some(Why::Refused) => {
            service.stats().count(Event::Failed);
            let error = refusal.map_or_else(String::new, |error| format!(": {error}"));
            debug!("datagram from {client}: the reply could not be sent{error}");
            return count_request();
        }
    }
    service.stats().served(Via::Udp);
    debug!(
        "datagram from {client}: served, {} bytes in, {} out{}",
        sent.bytes_in,
        sent.bytes_out,
        match sent.invalid {
            0 => String::new(),
            n => format!(", {n} not UTF-8 (passed through)"),
        }
    );
    let (bytes_in, bytes_out) = (sent.bytes_in as u64, sent.bytes_out as u64);
    service
        .stats()
        .bytes(Via::Udp, bytes_in, bytes_out, sent.invalid);
}

/// Serves `socket` on the event loop under `service`'s rules until `shutdown` completes.
pub(crate) async fn serve_datagrams<X: Transform>(
    mut socket: UdpServer,
    transform: X,
    service: &Service,
    shutdown: impl Future,
) {
    let mut answering = Answerer::new(service, transform, &socket);
    tokio::pin!(shutdown);
    loop {
        let answered = tokio::select! {
            _ = &mut shutdown => break,
            answered = socket.answer_batch(|datagram| answering.answer(datagram)) => answered,
        };
        match answering.account(answered, socket.unsent()) {
            AfterBatch::Go => {}
            AfterBatch::Backoff => tokio::time::sleep(ACCEPT_BACKOFF).await,
            AfterBatch::Stop => break,
        }
    }
    // Stopped while a batch waited for room to send: its replies go as the socket closes.
    answering.account(Ok(false), socket.unsent());
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
    let mut answering = Answerer::new(service, transform, &socket);
    loop {
        let answered = socket.answer_batch(|datagram| answering.answer(datagram));
        match answering.account(answered, socket.unsent()) {
            AfterBatch::Go => {}
            AfterBatch::Backoff => std::thread::sleep(ACCEPT_BACKOFF),
            AfterBatch::Stop => return,
        }
    }
}

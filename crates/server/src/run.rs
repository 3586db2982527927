//! [`run`]: serve one listener until shutdown, within the limits of [`Options`].

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep, sleep, timeout};
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use upcase_proto::{LineTooLong, Transform, Transformer};
use upcase_transport::{Listener, Peer, PeerKind};

use crate::budget::RETRY as BUDGET_RETRY;
use crate::datagram::answer_peer;
use crate::echo::EchoLoops;
use crate::options::Options;
use crate::policy::SourceSlot;
use crate::service::{ACCEPT_BACKOFF, CUT_GRACE, Open, Service};
use crate::stats::{Event, Totals, Trouble};

/// Serves every peer of `listener` with a fresh copy of `transform`, until `shutdown`
/// completes, and returns what it did.
///
/// Each peer is first checked against [`Options::access`] and the per-source limits, and a
/// datagram against the reflection rules of docs/PROTOCOL.md; a refused connection is closed at
/// once, a refused datagram gets no reply. Refusals and drops are counted and logged, at most
/// one line a second for each kind.
///
/// At shutdown it closes the listening socket, lets open connections finish on their own for
/// up to [`Options::drain_timeout`], then answers each for what it has sent, closes it, and
/// returns.
///
/// To serve several listeners under one set of limits (one per transport, or one per worker
/// thread), give each to [`serve`] with the same [`Service`].
///
/// ```no_run
/// # async fn example() -> Result<(), upcase_transport::TransportError> {
/// use upcase_proto::Builtin;
/// use upcase_server::{Options, run};
/// use upcase_transport::{Tcp, Transport};
///
/// let listener = Tcp::bind("127.0.0.1:12000".parse().unwrap()).await?;
/// let totals = run(listener, Builtin::Upper, Options::default(), async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await;
/// println!("{totals}");
/// # Ok(())
/// # }
/// ```
pub async fn run<L, X>(listener: L, transform: X, options: Options, shutdown: impl Future) -> Totals
where
    L: Listener,
    X: Transform,
{
    let service = Service::new(options);
    serve(listener, transform, &service, shutdown).await;
    service.totals()
}

/// Reads a connection's PROXY header, then admits and serves it by the client address the header
/// gives.
async fn serve_proxied<P: Peer, X: Transform>(
    mut peer: P,
    transform: X,
    shared: Arc<Service>,
    held: Option<(OwnedSemaphorePermit, Open)>,
) {
    let wait = shared.options.idle_timeout;
    let header = async {
        if wait.is_zero() {
            Ok(peer.read_proxy_header().await)
        } else {
            timeout(wait, peer.read_proxy_header()).await
        }
    };
    let header = async {
        tokio::select! {
            header = header => Some(header),
            () = shared.cut.raised() => None,
        }
    };
    let refusal = match header.await {
        Some(Ok(Ok(()))) => None,
        Some(Ok(Err(error))) => Some(error.to_string()),
        Some(Err(_elapsed)) => Some(format!(
            "no PROXY protocol header from {} within {wait:?}",
            peer.addr()
        )),
        None => Some(format!(
            "no PROXY protocol header from {} before the end of the drain",
            peer.addr()
        )),
    };
    if let Some(why) = refusal {
        shared.log_throttled(Event::ProxyHeader, || {
            format!("closed the connection: {why} (--proxy-protocol)")
        });
        return;
    }
    let Some(slot) = shared.admit(peer.addr(), PeerKind::Connection, 0) else {
        return;
    };
    serve_peer(peer, transform, shared, (held, slot)).await;
}

/// Serves one connection accepted elsewhere (by inetd, for one) under `service`'s rules, to
/// its end.
pub async fn serve_connection<P, X>(peer: P, transform: X, service: &Arc<Service>)
where
    P: Peer,
    X: Transform,
{
    let Some(slot) = service.admit(peer.addr(), PeerKind::Connection, 0) else {
        return;
    };
    let open = Open::new(service);
    serve_peer(peer, transform, Arc::clone(service), (None, slot)).await;
    drop(open);
}

/// [`run`] for one of several listeners sharing `service`: serves `listener` until `shutdown`
/// completes, then drains its connections as [`run`] does. Its traffic counts in
/// [`Service::totals`].
pub async fn serve<L, X>(
    mut listener: L,
    transform: X,
    service: &Arc<Service>,
    shutdown: impl Future,
) where
    L: Listener,
    X: Transform,
{
    let own_port = listener.local_addr().map_or(0, |addr| addr.port());
    let drain_timeout = service.options.drain_timeout;
    let tasks = TaskTracker::new();
    // A timer of the listener's own, kept `idle` ahead. Each new connection sets an idle timer;
    // when that would be the runtime's earliest, tokio wakes its driver to take it into account
    // (a write to an eventfd, and one more epoll_wait), which on short connections is a wake-up
    // per connection. With this one always earlier, a connection's timer never is.
    let idle = service.options.idle_timeout;
    let pacing = L::KIND == PeerKind::Connection && !idle.is_zero();
    let pacer = sleep(idle);
    tokio::pin!(shutdown, pacer);
    let mut loops = EchoLoops::default();

    loop {
        // The permit is taken before accepting, so that a full server leaves new connections
        // in the kernel's queue instead of accepting them and making them wait.
        let permit = match L::KIND {
            PeerKind::Connection => tokio::select! {
                _ = &mut shutdown => break,
                permit = Arc::clone(&service.connections).acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_closed) => break,
                },
            },
            PeerKind::Datagram => None,
        };
        let accepted = loop {
            tokio::select! {
                _ = &mut shutdown => break None,
                peer = listener.accept() => break Some(peer),
                () = &mut pacer, if pacing => pacer.as_mut().reset(Instant::now() + idle),
            }
        };
        let Some(peer) = accepted else { break };
        let peer = match peer {
            Ok(peer) => peer,
            Err(error) => {
                service.log_trouble(Trouble::Accept, || {
                    format!("accept failed: {error}; retrying in {ACCEPT_BACKOFF:?}")
                });
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        if L::KIND == PeerKind::Datagram {
            answer_peer(peer, transform.clone(), service, own_port, &mut loops).await;
            continue;
        }
        if service.options.proxy_protocol {
            // The client's address comes with the header, which may take a while: admission
            // waits for it on the connection's own task.
            let held = permit.map(|permit| (permit, Open::new(service)));
            let proxied = serve_proxied(peer, transform.clone(), Arc::clone(service), held);
            drop(tasks.spawn(proxied));
            continue;
        }
        let Some(slot) = service.admit(peer.addr(), L::KIND, own_port) else {
            continue; // Dropping the peer closes the connection.
        };
        // The permit and the slot go into the peer's future rather than a wrapper around it:
        // a future awaited inside another is stored twice, and this one stays alive as long as
        // its connection, idle or not.
        let served = serve_peer(
            peer,
            transform.clone(),
            Arc::clone(service),
            (permit.map(|permit| (permit, Open::new(service))), slot),
        );
        drop(tasks.spawn(served));
    }

    // Close the port now: new clients are refused at once instead of queued for the drain.
    drop(listener);
    tasks.close();
    if !tasks.is_empty() {
        info!(
            "waiting up to {drain_timeout:?} for {} open connections to finish",
            tasks.len()
        );
    }
    service
        .drain(
            tasks.wait(),
            || {
                warn!(
                    "{} connections still open after the drain timeout of {drain_timeout:?}; \
                     answering what they sent and closing them",
                    tasks.len()
                );
            },
            || {
                warn!(
                    "{} connections did not take their last replies; dropping them",
                    tasks.len()
                );
            },
        )
        .await;
}

/// How a peer's stream ended, when it ended well.
enum End {
    /// The client finished sending (or the datagram was all read).
    Finished,
    /// The drain timeout ran out at shutdown.
    Cut,
}

/// How a peer's stream ended, when it ended badly.
enum Stop {
    LineTooLong(LineTooLong),
    Idle,
    /// The drain timeout ran out, and then [`CUT_GRACE`] too while a reply still waited to be
    /// taken.
    Unread,
    Io(io::Error),
}

/// Bytes moved for one peer.
#[derive(Default)]
struct Flow {
    bytes_in: usize,
    bytes_out: usize,
}

/// Most bytes a connection's future (`serve_peer`) may take. Every open connection holds one,
/// idle or not, and tokio aligns a task to 128 bytes: a few bytes more cost 128 per connection.
#[cfg(test)]
const CONNECTION_FUTURE_MAX: usize = 1024;

/// Serves one admitted connection to the end, then counts and logs how it ended; `_held` (its
/// permit, its place in the open count and its source slot) is let go when it returns.
async fn serve_peer<P: Peer, X: Transform>(
    mut peer: P,
    transform: X,
    shared: Arc<Service>,
    _held: (Option<(OwnedSemaphorePermit, Open)>, Option<SourceSlot>),
) {
    let mut stream = Transformer::new(transform).with_max_line(shared.options.max_line);
    let mut flow = Flow::default();
    let ended = transform_stream(&mut peer, &mut stream, &shared, &mut flow).await;
    // Asked for only now: held through the connection's life, the address would take the
    // future over `CONNECTION_FUTURE_MAX`.
    let addr = peer.addr();
    let stats = &shared.stats;
    let mut sent = flow.bytes_out;
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
                    "connection from {addr}: {}, {} bytes in, {sent} out{invalid}",
                    event.name(),
                    flow.bytes_in,
                );
            }
            Err(error) => {
                sent = 0;
                stats.count(Event::Failed);
                debug!("connection from {addr}: {error}");
            }
        },
        Err(Stop::LineTooLong(error)) => {
            // What came before the long line was answered.
            shared.log_throttled(Event::LineTooLong, || {
                format!("closing connection from {addr}: {error} (--max-line)")
            });
        }
        Err(Stop::Unread) => {
            stats.count(Event::Cut);
            // Dropped with the client's bytes unread, the socket is reset: nothing more can be
            // delivered to a client that takes nothing.
            debug!(
                "dropping connection from {addr}: its replies were not taken within \
                 {CUT_GRACE:?} of the drain's end"
            );
        }
        Err(Stop::Idle) => {
            stats.count(Event::IdleTimeout);
            debug!(
                "closing connection from {addr}: idle for {:?} (--idle-timeout)",
                shared.options.idle_timeout
            );
        }
        Err(Stop::Io(error)) => {
            stats.count(Event::Failed);
            debug!(
                "connection from {addr}: {}",
                upcase_transport::describe(&error)
            );
        }
    }
    stats.bytes(flow.bytes_in as u64, sent as u64, stream.invalid_bytes());
}

/// Reads a connection's stream to its end, writing each chunk's transform back as soon as it is
/// made.
async fn transform_stream<P: Peer, X: Transform>(
    peer: &mut P,
    stream: &mut Transformer<X>,
    shared: &Service,
    flow: &mut Flow,
) -> Result<End, Stop> {
    // Read from the options where needed rather than copied here: every byte of this future
    // is held by every open connection.
    let idle = || shared.options.idle_timeout;
    // One idle timer and one drain signal for the connection's whole life: made afresh for each
    // read and write, each would be registered and unregistered on every request. The timer
    // fires at most once per idle period and is then set again from the last progress. With no
    // idle timeout it is never polled, so never registered.
    let idle_timer = sleep(idle());
    let cut = shared.cut.raised();
    tokio::pin!(idle_timer, cut);
    let mut progress = Instant::now();
    let mut end = End::Finished;
    // Once the cut is seen, the idle timer is set for the end of its grace, and firing then
    // ends the connection: a client that takes no replies cannot hold it open.
    let mut cut_seen = false;
    loop {
        let (out, finished, fed) = {
            let read = peer.read();
            tokio::pin!(read);
            // The chunk read, while it waits for room in the budget.
            let mut got: Option<&[u8]> = None;
            let chunk: &[u8] = loop {
                // A chunk is read, and its reply made, only while the budget has room for the
                // reply; otherwise the connection looks again soon, and the wait is not
                // idleness (see `budget.rs`). The budget can be spent while a read waits.
                let room = shared.budget.has_room();
                if let Some(chunk) = got
                    && (room || shared.cut.is_raised())
                {
                    break chunk;
                }
                if !room && !cut_seen {
                    progress = Instant::now();
                    idle_timer.as_mut().reset(progress + BUDGET_RETRY);
                }
                // `biased`, the read first, so that the timer and the cut (whose poll takes a
                // lock) are polled only when the read waits, not beside every request. A client
                // that sends without pause and reads slowly keeps the read always ready, so once
                // the cut is raised the read is not tried at all.
                tokio::select! {
                    biased;
                    read = &mut read, if got.is_none() && room && !shared.cut.is_raised() => {
                        got = Some(read.map_err(Stop::Io)?);
                    }
                    () = &mut idle_timer, if !idle().is_zero() || cut_seen || !room => {
                        if room || cut_seen {
                            still_active(idle_timer.as_mut(), progress, idle(), cut_seen)?;
                        }
                    }
                    // At the end of the drain, the stream ends as if the client had finished:
                    // what it sent is answered.
                    () = &mut cut => {
                        see_cut(idle_timer.as_mut(), &mut cut_seen);
                        end = End::Cut;
                        break got.unwrap_or(&[]);
                    }
                }
            };
            progress = Instant::now();
            let finished = chunk.is_empty();
            // A buffer per chunk, put down once sent, so that an idle connection holds none.
            let mut out = SPARE_REPLY.take();
            let fed = if finished {
                stream.finish(&mut out);
                Ok(())
            } else {
                flow.bytes_in += chunk.len();
                stream.feed(chunk, &mut out)
            };
            (out, finished, fed)
        };
        {
            let write = peer.write(&out);
            tokio::pin!(write);
            // A reply the socket takes at once is held only within this poll; one that has to
            // wait is counted in the budget until it is sent (see `budget.rs`).
            let mut reserved = None;
            loop {
                tokio::select! {
                    biased;
                    written = &mut write => {
                        written.map_err(Stop::Io)?;
                        break;
                    }
                    () = std::future::ready(()), if reserved.is_none() => {
                        reserved = Some(shared.budget.reserve(out.capacity()));
                    }
                    () = &mut idle_timer, if !idle().is_zero() || cut_seen => {
                        still_active(idle_timer.as_mut(), progress, idle(), cut_seen)?;
                    }
                    // A client that takes no replies keeps this write waiting, so the cut is
                    // watched here too.
                    () = &mut cut, if !cut_seen => see_cut(idle_timer.as_mut(), &mut cut_seen),
                }
            }
        }
        flow.bytes_out += out.len();
        spare_reply(out);
        progress = Instant::now();
        fed.map_err(Stop::LineTooLong)?;
        if finished {
            return Ok(end);
        }
    }
}

thread_local! {
    /// A reply buffer put down once its reply is sent, for the next chunk answered on this
    /// thread: with many connections each sending a little, one buffer passes from one to the
    /// next instead of being allocated and freed for every request.
    static SPARE_REPLY: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Largest reply buffer kept for the next chunk; a bigger one, made for a rare large reply, is
/// freed.
const SPARE_REPLY_MAX: usize = 64 * 1024;

fn spare_reply(mut out: Vec<u8>) {
    if out.capacity() <= SPARE_REPLY_MAX {
        out.clear();
        SPARE_REPLY.set(out);
    }
}

/// When the idle timer fires: [`Stop::Unread`] once the cut's grace is over, [`Stop::Idle`] if
/// nothing moved for `idle` since `progress`; otherwise the timer is set for `idle` after
/// `progress`.
fn still_active(
    timer: Pin<&mut Sleep>,
    progress: Instant,
    idle: Duration,
    cut_seen: bool,
) -> Result<(), Stop> {
    if cut_seen {
        return Err(Stop::Unread);
    }
    let deadline = progress + idle;
    if Instant::now() >= deadline {
        return Err(Stop::Idle);
    }
    timer.reset(deadline);
    Ok(())
}

/// When the cut is first seen: the timer is set for the end of the grace.
fn see_cut(timer: Pin<&mut Sleep>, cut_seen: &mut bool) {
    if !*cut_seen {
        *cut_seen = true;
        timer.reset(Instant::now() + CUT_GRACE);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use upcase_proto::Builtin;
    use upcase_transport::{Listener, Tcp, Transport};

    use super::{CONNECTION_FUTURE_MAX, Options, Service, serve_peer};

    #[tokio::test]
    async fn a_connection_future_stays_within_its_size() {
        let at = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut listener = Tcp::bind(at).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let _client = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let peer = listener.accept().await.expect("accept");
        let service = Service::new(Options::default());
        let served = serve_peer(peer, Builtin::default(), Arc::clone(&service), (None, None));
        assert!(
            size_of_val(&served) <= CONNECTION_FUTURE_MAX,
            "a connection's future takes {} bytes",
            size_of_val(&served)
        );
    }
}

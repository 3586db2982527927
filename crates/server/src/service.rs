//! [`Service`]: what the listeners of one server share (its limits, its counters, the drain),
//! and the drain: a wait for the open connections, then [`DrainEnd`], the signal for each to
//! answer what it was sent and close. Who is let in is the [`Gate`]'s to say; the service
//! counts and logs each refusal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::futures::OwnedNotified;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::{Instant, timeout};
use tracing::warn;

use crate::access::Access;
use crate::budget::Budget;
use crate::gate::{Gate, Refusal};
use crate::options::Options;
use crate::sources::SourceSlot;
use crate::stats::{Stats, Trouble};
use crate::totals::{Event, Totals};

/// How long to wait after a failed accept. Most failures (too many open files, a connection
/// reset before it was accepted) pass; retrying at once would only spin.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// After the drain timeout, how long connections get to send their last replies before they
/// are dropped.
pub(crate) const CUT_GRACE: Duration = Duration::from_secs(1);

/// What the listeners of one server share: its limits, its counters, and the signal that ends
/// the drain.
pub struct Service {
    /// The limits every connection and datagram is held to, set once at start.
    options: Options,
    /// Who may be served, and their counts: connections, sources, datagrams.
    gate: Gate,
    /// What was served and refused, a shard per thread, for the log line at exit and
    /// `--metrics`.
    stats: Stats,
    /// Connections being served (the semaphore counts one more per listener: the permit taken
    /// before each accept).
    open: AtomicUsize,
    /// Raised when the drain timeout runs out: open connections then finish at once.
    cut: DrainEnd,
    /// Reply bytes held by all connections, against [`Options::buffer_budget`].
    budget: Budget,
    /// Set when the drain starts: from then on `/readyz` says 503.
    draining: AtomicBool,
}

/// One open connection, counted in [`Service::open_connections`] while it lives.
pub(crate) struct OpenCount(Arc<Service>);

impl OpenCount {
    pub(crate) fn new(service: &Arc<Service>) -> Self {
        service.open.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(service))
    }
}

impl Drop for OpenCount {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What an admitted connection holds while it is open: its permit, its count among the open
/// connections and against its source. Dropped when the connection ends, which frees them.
pub(crate) struct Admission {
    _permit: Option<OwnedSemaphorePermit>,
    _open: OpenCount,
    _source: Option<SourceSlot>,
}

impl Admission {
    /// This admission, counted against its source too until it ends.
    fn counted_against_source(mut self, slot: Option<SourceSlot>) -> Self {
        self._source = slot;
        self
    }

    /// This admission, no longer counted against the source it was: a proxied connection's
    /// balancer, once the header has named its client.
    pub(crate) fn uncounted(mut self) -> Self {
        self._source = None;
        self
    }

    /// An admission among the open connections, not yet admitted by source.
    pub(crate) fn new(permit: Option<OwnedSemaphorePermit>, service: &Arc<Service>) -> Self {
        Self {
            _permit: permit,
            _open: OpenCount::new(service),
            _source: None,
        }
    }
}

impl Service {
    /// A service with these limits and no traffic yet.
    pub fn new(mut options: Options) -> Arc<Self> {
        options.access = options.access.normalized();
        crate::access::normalize(&mut options.proxy_from);
        Arc::new(Self {
            gate: Gate::new(&options),
            budget: Budget::new(options.buffer_budget),
            options,
            stats: Stats::default(),
            open: AtomicUsize::new(0),
            cut: DrainEnd::default(),
            draining: AtomicBool::new(false),
        })
    }

    /// The limits every connection and datagram is held to.
    #[inline]
    pub(crate) fn options(&self) -> &Options {
        &self.options
    }

    /// The counters, a shard per thread.
    #[inline]
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The signal that ends the drain for every open connection.
    #[inline]
    pub(crate) fn cut(&self) -> &DrainEnd {
        &self.cut
    }

    /// The reply bytes all connections hold, against `--buffer-budget`.
    #[inline]
    pub(crate) fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Who may be served, and their counts.
    #[inline]
    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }

    /// What the service's listeners have done so far.
    pub fn totals(&self) -> Totals {
        self.stats.totals()
    }

    /// TCP connections being served now.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Marks the start of the drain: the service takes no new clients from now on, and says so
    /// at `/readyz` (503), so that a balancer sends them elsewhere before its port closes.
    pub fn start_drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether the service still takes new clients: until [`start_drain`](Self::start_drain).
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::Acquire)
    }

    /// Bytes reserved now for replies not yet sent, against [`Options::buffer_budget`].
    pub fn buffered_bytes(&self) -> usize {
        self.budget.reserved()
    }

    /// Who may be served now.
    pub fn access(&self) -> Arc<Access> {
        self.gate.access()
    }

    /// Replaces who may be served, from the next peer on; connections already open go on.
    pub fn set_access(&self, access: Access) {
        self.gate.set_access(access);
    }

    /// Lets a new connection from `addr` in, counted against its source in `admission`; or
    /// counts and logs its refusal.
    #[inline]
    pub(crate) fn admit_connection(
        &self,
        addr: SocketAddr,
        admission: Admission,
    ) -> Option<Admission> {
        let admitted = self.gate.connection(addr, &self.options);
        self.unless_refused(admitted, "connection", addr)
            .map(|slot| admission.counted_against_source(slot))
    }

    /// [`admit_connection`](Self::admit_connection) for a balancer named by `--proxy-from`,
    /// before its PROXY header.
    pub(crate) fn admit_balancer(
        &self,
        addr: SocketAddr,
        admission: Admission,
    ) -> Option<Admission> {
        let admitted = self.gate.balancer(addr, &self.options);
        self.unless_refused(admitted, "connection", addr)
            .map(|slot| admission.counted_against_source(slot))
    }

    /// Lets a datagram from `from` to `to`, on the port `own_port`, in; or counts and logs its
    /// refusal.
    #[inline]
    pub(crate) fn admit_datagram(
        &self,
        from: SocketAddr,
        to: upcase_transport::Destination,
        own_port: u16,
    ) -> Option<()> {
        let admitted = self.gate.datagram(from, to, own_port, &self.options);
        self.unless_refused(admitted, "datagram", from)
    }

    #[inline]
    fn unless_refused<T>(
        &self,
        admitted: Result<T, Refusal>,
        what: &str,
        from: SocketAddr,
    ) -> Option<T> {
        admitted
            .map_err(|Refusal { event, why }| {
                self.log_throttled(event, || {
                    format!("refused {what} from {}: {why}", shown(from))
                });
            })
            .ok()
    }
}

/// Raised once, when the drain timeout runs out.
///
/// A connection waiting for its client is woken through the notification. A connection whose
/// client sends without pause may never wait on its read, so it looks at the flag before each
/// read: a load, where polling the notification would take a lock.
#[derive(Debug, Default)]
pub(crate) struct DrainEnd {
    raised: AtomicBool,
    notify: Arc<Notify>,
}

impl DrainEnd {
    pub(crate) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_raised(&self) -> bool {
        self.raised.load(Ordering::Acquire)
    }

    /// Completes once the cut is raised.
    pub(crate) fn raised(&self) -> impl Future<Output = ()> + '_ {
        // Made before the flag is read: a raise between the two still wakes it.
        let notified = self.notify.notified();
        async move {
            if !self.is_raised() {
                notified.await;
            }
        }
    }

    /// A notification of the raise that a connection can keep for its whole life: it completes
    /// on a raise from the moment it is made, polled or not. Check
    /// [`is_raised`](Self::is_raised) too, for a raise before it was made.
    pub(crate) fn notified(&self) -> OwnedNotified {
        Arc::clone(&self.notify).notified_owned()
    }
}

impl Service {
    /// After shutdown: waits up to the drain timeout for `finished` (the open connections
    /// ending on their own); then, after `cutting`, has every connection answer what it was
    /// sent and close, and waits [`CUT_GRACE`] more, after which `dropping`.
    pub(crate) async fn drain(
        &self,
        finished: impl Future<Output = ()>,
        cutting: impl FnOnce(),
        dropping: impl FnOnce(),
    ) {
        tokio::pin!(finished);
        if timeout(self.options.drain_timeout, &mut finished)
            .await
            .is_ok()
        {
            return;
        }
        cutting();
        self.cut.raise();
        if timeout(CUT_GRACE, &mut finished).await.is_err() {
            dropping();
            // Each connection drops itself once its grace is over (see `door.rs`), a
            // moment after this one's; one that did send its last replies may still be
            // lingering in its close.
            let _ = timeout(CUT_GRACE, finished).await;
        }
    }

    /// [`drain`](Self::drain) for a connection served by [`serve_connection`](crate::serve_connection), as [`serve`](crate::serve)
    /// drains its own.
    pub(crate) async fn drain_connection(&self, served: impl Future<Output = ()>) {
        let drain_timeout = self.options.drain_timeout;
        let cutting = || {
            warn!(
                "the connection is still open after the drain timeout of {drain_timeout:?}; \
                 answering what it sent and closing it"
            );
        };
        let dropping = || warn!("the connection did not take its last replies; dropping it");
        self.drain(served, cutting, dropping).await;
    }
}

impl Service {
    /// Counts `event` and logs `message` at warning level, unless one like it was logged less
    /// than a second ago.
    pub(crate) fn log_throttled(&self, event: Event, message: impl FnOnce() -> String) {
        let allowed = self
            .stats
            .count_and_throttle(event, Instant::now().into_std());
        warn_held_back(allowed, message);
    }

    /// Counts a failed TLS handshake and logs `message`, unless a failure of its kind was
    /// logged less than a second ago.
    pub(crate) fn log_handshake_failure(
        &self,
        failure: upcase_transport::HandshakeFailure,
        message: impl FnOnce() -> String,
    ) {
        let allowed = self
            .stats
            .handshake_failed(failure, Instant::now().into_std());
        warn_held_back(allowed, message);
    }

    /// Logs `message` about the server's own sockets at warning level, unless one like it was
    /// logged less than a second ago.
    pub(crate) fn log_trouble(&self, trouble: Trouble, message: impl FnOnce() -> String) {
        let allowed = self
            .stats
            .throttle_trouble(trouble, Instant::now().into_std());
        warn_held_back(allowed, message);
    }
}

/// Logs `message` if the throttle `allowed` it, with how many like it it held back.
fn warn_held_back(allowed: Option<u64>, message: impl FnOnce() -> String) {
    match allowed {
        None => {}
        Some(0) => warn!("{}", message()),
        Some(n) => warn!(
            "{} (and {n} more like it since the last such line)",
            message()
        ),
    }
}

/// `addr` as logs show it: an IPv4 client of a dual-stack socket as IPv4, not as
/// `[::ffff:a.b.c.d]`. (A datagram's reply still goes to the address it came from.)
pub(crate) fn shown(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

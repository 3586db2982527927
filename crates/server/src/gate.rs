//! [`Gate`]: who may be served, and the one place a peer is let in or refused — a connection
//! (the access lists, `--max-connections`, its source's open connections), a balancer before
//! its PROXY header, a datagram (the access lists, where it was sent, reflection, its source's
//! rate). Refusals come back as [`Refusal`]s; the service counts and logs them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use upcase_transport::Destination;

use crate::access::Access;
use crate::options::Options;
use crate::reflection::reflection_risk;
use crate::sources::{DatagramRate, SourceConnections, SourceFull, SourceSlot};
use crate::totals::Event;

/// The limits on who is served, and their counts.
pub(crate) struct Gate {
    /// One permit per stream connection that may be open.
    connections: Arc<Semaphore>,
    /// Open connections per source.
    sources: SourceConnections,
    /// Datagrams per source this second.
    rate: Mutex<DatagramRate>,
    /// Who may be served: the options' lists until [`set_access`](Gate::set_access) replaces
    /// them (on SIGHUP). Read for every peer, so kept where a read takes no lock.
    access: ArcSwap<Access>,
    /// Whether `access` has any rule: most servers have none, and then no peer needs to read it.
    access_rules: AtomicBool,
}

/// Why a peer was refused: what to count, and what to say.
pub(crate) struct Refusal {
    pub(crate) event: Event,
    pub(crate) why: String,
}

fn refused<T>(event: Event, why: String) -> Result<T, Refusal> {
    Err(Refusal { event, why })
}

impl Gate {
    pub(crate) fn new(options: &Options) -> Self {
        Self {
            connections: Arc::new(Semaphore::new(options.max_connections)),
            sources: SourceConnections::new(options.max_connections_per_source),
            rate: Mutex::new(DatagramRate::new(
                options.max_datagrams_per_source,
                Instant::now().into_std(),
            )),
            access_rules: AtomicBool::new(options.access != Access::default()),
            access: ArcSwap::from_pointee(options.access.clone()),
        }
    }

    /// The permits of `--max-connections`, one taken before each accept.
    pub(crate) fn connections(&self) -> &Arc<Semaphore> {
        &self.connections
    }

    /// Who may be served now.
    pub(crate) fn access(&self) -> Arc<Access> {
        self.access.load_full()
    }

    /// Replaces who may be served, from the next peer on.
    pub(crate) fn set_access(&self, access: Access) {
        let rules = access != Access::default();
        self.access.store(Arc::new(access.normalized()));
        self.access_rules.store(rules, Ordering::Release);
    }

    /// Whether `--deny` refuses a peer from `ip` now, whatever `--allow` says.
    fn denies(&self, ip: IpAddr) -> bool {
        self.access_rules.load(Ordering::Acquire) && self.access.load().denies(ip)
    }

    /// Whether a peer from `ip` may be served now.
    pub(crate) fn permits(&self, ip: IpAddr) -> bool {
        !self.access_rules.load(Ordering::Acquire) || self.access.load().permits(ip)
    }

    /// A new connection from `addr`, against the access lists and its source's limit; let in,
    /// its count against its source, held until the connection ends.
    #[inline]
    pub(crate) fn connection(
        &self,
        addr: SocketAddr,
        options: &Options,
    ) -> Result<Option<SourceSlot>, Refusal> {
        let permitted = self.permits(addr.ip());
        self.admit(addr, permitted, options)
    }

    /// A connection from a balancer named by `--proxy-from`, before its PROXY header: naming
    /// it allows it, so only `--deny` can refuse it.
    pub(crate) fn balancer(
        &self,
        addr: SocketAddr,
        options: &Options,
    ) -> Result<Option<SourceSlot>, Refusal> {
        let permitted = !self.denies(addr.ip());
        self.admit(addr, permitted, options)
    }

    #[inline]
    fn admit(
        &self,
        addr: SocketAddr,
        permitted: bool,
        options: &Options,
    ) -> Result<Option<SourceSlot>, Refusal> {
        if !permitted {
            return refused(Event::Denied, "not allowed by --allow/--deny".into());
        }
        match self.sources.enter(addr.ip()) {
            Ok(slot) => Ok(slot),
            Err(SourceFull) => refused(
                Event::SourceLimit,
                format!(
                    "its source has {} connections open already (--max-connections-per-source)",
                    options.max_connections_per_source
                ),
            ),
        }
    }

    /// A datagram from `from` to `to` on the port `own_port`: against the access lists, where
    /// it was sent, the reflection rules and its source's rate. Inlined: every datagram passes
    /// here, and each refusal is the rare way out.
    #[inline]
    pub(crate) fn datagram(
        &self,
        from: SocketAddr,
        to: Destination,
        own_port: u16,
        options: &Options,
    ) -> Result<(), Refusal> {
        if let Destination::Group(group) = to {
            // Every server that heard it would answer: one datagram, many replies, all to a
            // source that may be forged (the Fraggle attack).
            return refused(
                Event::NotUnicast,
                format!(
                    "sent to {}, a broadcast or multicast address, not to this host's own",
                    group.to_canonical()
                ),
            );
        }
        if !self.permits(from.ip()) {
            return refused(Event::Denied, "not allowed by --allow/--deny".into());
        }
        if let Some(risk) = reflection_risk(from, own_port) {
            return refused(
                Event::Reflection,
                format!("{risk}; a reply could be reflected at a third party"),
            );
        }
        // A balancer's datagrams relay many clients (nginx sends no PROXY header for UDP): the
        // balancer limits them itself, and one source's rate would starve them all.
        if options.max_datagrams_per_source > 0
            && !options.relays_datagrams(from.ip())
            && !self
                .rate
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .admit(from.ip(), Instant::now().into_std())
        {
            return refused(
                Event::RateLimit,
                format!(
                    "its source sent over {} datagrams this second (--max-datagrams-per-source)",
                    options.max_datagrams_per_source
                ),
            );
        }
        Ok(())
    }
}

//! Where a peer comes from ([`Source`], from its address as rules and limits see it), and the
//! per-source limits: connections open per source, datagrams per source per second.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Where a datagram came from, for per-source limits: the IPv4 address, or the IPv6 /64 (one
/// host usually holds a whole /64, so counting single IPv6 addresses would limit nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(u128);

impl Source {
    pub(crate) fn of(ip: IpAddr) -> Self {
        // Behind NAT64 every IPv4 client arrives inside one /64: each is its IPv4 address.
        match canonical(ip) {
            IpAddr::V4(v4) => Source(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => Source((u128::from(v6) >> 64) | (1 << 127)),
        }
    }
}

/// NAT64's well-known prefix (RFC 6052), its first 96 bits: behind it, every IPv4 client
/// arrives inside one IPv6 /64, and must still be told apart by its IPv4 address.
const NAT64_PREFIX: u128 = 0x0064_ff9b_0000_0000_0000_0000_0000_0000;

/// `ip` as rules and per-source limits see it: an IPv4 address mapped into IPv6, or carried
/// through NAT64's well-known prefix, is that IPv4 address.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match nat64_embedded(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => ip.to_canonical(),
        },
        IpAddr::V4(_) => ip,
    }
}

/// The IPv4 address `v6` carries under NAT64's well-known prefix, if it is under it.
pub(crate) fn nat64_embedded(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let bits = u128::from(v6);
    (bits >> 32 << 32 == NAT64_PREFIX).then(|| std::net::Ipv4Addr::from(bits as u32))
}

/// How many connections each source has open, for `--max-connections-per-source`.
#[derive(Debug, Clone)]
pub(crate) struct SourceConnections {
    /// The most per source; 0 for no limit.
    limit: usize,
    /// Open connections by source; a source leaves the map with its last connection.
    open: Arc<Mutex<HashMap<Source, usize>>>,
}

/// One open connection counted against its source; dropping it uncounts it.
#[derive(Debug)]
pub(crate) struct SourceSlot {
    source: Source,
    open: Arc<Mutex<HashMap<Source, usize>>>,
}

impl SourceConnections {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            open: Arc::default(),
        }
    }

    /// Counts a new connection from `ip`, or refuses it if its source is at the limit. With no
    /// limit nothing is counted (`Ok(None)`): the table is there only to enforce one, and
    /// keeping it costs two locks and two hashes per connection.
    pub(crate) fn enter(&self, ip: IpAddr) -> Result<Option<SourceSlot>, SourceFull> {
        if self.limit == 0 {
            return Ok(None);
        }
        let source = Source::of(ip);
        // A panic elsewhere while holding the lock cannot leave the counts half-written.
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(source).or_default();
        if *count >= self.limit {
            return Err(SourceFull);
        }
        *count += 1;
        Ok(Some(SourceSlot {
            source,
            open: Arc::clone(&self.open),
        }))
    }
}

/// A source already has `--max-connections-per-source` connections open.
#[derive(Debug)]
pub(crate) struct SourceFull;

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.source);
            }
        }
    }
}

/// Datagrams per source per second, for `--max-datagrams-per-source`: a count per source in
/// one-second windows. The UDP sockets of all workers share one, behind a lock.
#[derive(Debug)]
pub(crate) struct DatagramRate {
    /// The most per source per window; 0 for no limit.
    limit: u32,
    /// When the current window started.
    window: Instant,
    /// Datagrams in the current window, by source.
    seen: HashMap<Source, u32>,
}

/// The most sources one window tracks. A flood from more (forged) sources than this in one
/// second would otherwise grow the map without bound; their datagrams are refused instead, until
/// the window ends.
const MAX_SOURCES: usize = 65_536;

const WINDOW: Duration = Duration::from_secs(1);

impl DatagramRate {
    pub(crate) fn new(limit: u32, now: Instant) -> Self {
        Self {
            limit,
            window: now,
            seen: HashMap::new(),
        }
    }

    /// Counts a datagram from `ip` at `now`; false if its source is over the limit.
    pub(crate) fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        if self.limit == 0 {
            return true;
        }
        if now.duration_since(self.window) >= WINDOW {
            self.window = now;
            self.seen.clear();
        }
        let source = Source::of(ip);
        if !self.seen.contains_key(&source) && self.seen.len() >= MAX_SOURCES {
            return false;
        }
        let count = self.seen.entry(source).or_default();
        *count += 1;
        *count <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_sources_are_counted_by_slash_64() {
        assert_eq!(
            Source::of(ip("2001:db8::1")),
            Source::of(ip("2001:db8::ffff:2"))
        );
        assert_ne!(
            Source::of(ip("2001:db8::1")),
            Source::of(ip("2001:db8:0:1::1"))
        );
        assert_eq!(
            Source::of(ip("::ffff:10.0.0.1")),
            Source::of(ip("10.0.0.1"))
        );
        assert_ne!(Source::of(ip("10.0.0.1")), Source::of(ip("::10.0.0.1")));
        assert_eq!(
            Source::of(ip("64:ff9b::a00:1")),
            Source::of(ip("10.0.0.1")),
            "NAT64 carries the IPv4 address"
        );
        assert_ne!(
            Source::of(ip("64:ff9b::a00:1")),
            Source::of(ip("64:ff9b::a00:2")),
            "two IPv4 clients behind NAT64 are two sources"
        );
    }

    #[test]
    fn source_connections_are_capped_and_released() {
        let sources = SourceConnections::new(2);
        let a = sources.enter(ip("10.0.0.1")).expect("first");
        let b = sources.enter(ip("10.0.0.1")).expect("second");
        assert!(a.is_some() && b.is_some(), "both counted");
        assert!(
            sources.enter(ip("10.0.0.1")).is_err(),
            "third is over the limit"
        );
        assert!(
            sources.enter(ip("10.0.0.2")).is_ok(),
            "other sources are not affected"
        );
        drop(a);
        assert!(sources.enter(ip("10.0.0.1")).is_ok(), "a slot came free");
        drop(b);
        let unlimited = SourceConnections::new(0);
        let held: Vec<_> = (0..1000).map(|_| unlimited.enter(ip("10.0.0.1"))).collect();
        assert!(
            held.iter().all(|entered| matches!(entered, Ok(None))),
            "all admitted, none counted"
        );
        assert!(unlimited.open.lock().expect("lock").is_empty());
    }

    #[test]
    fn datagram_rate_is_per_source_per_second() {
        let start = Instant::now();
        let mut rate = DatagramRate::new(3, start);
        let results: Vec<bool> = (0..5).map(|_| rate.admit(ip("10.0.0.1"), start)).collect();
        assert_eq!(results, [true, true, true, false, false]);
        assert!(rate.admit(ip("10.0.0.2"), start));
        assert!(
            rate.admit(ip("10.0.0.1"), start + Duration::from_secs(1)),
            "a new window"
        );
        let mut unlimited = DatagramRate::new(0, start);
        assert!((0..10_000).all(|_| unlimited.admit(ip("10.0.0.1"), start)));
    }

    #[test]
    fn a_flood_of_sources_cannot_grow_the_rate_table_without_bound() {
        let start = Instant::now();
        let mut rate = DatagramRate::new(10, start);
        for n in 0..MAX_SOURCES as u32 {
            assert!(rate.admit(IpAddr::from(n.to_be_bytes()), start));
        }
        assert!(!rate.admit(ip("203.0.113.9"), start), "table full: refused");
        assert!(
            rate.admit(ip("0.0.0.1"), start),
            "known sources still counted"
        );
        assert!(
            rate.admit(ip("203.0.113.9"), start + WINDOW),
            "room again next window"
        );
        assert_eq!(rate.seen.len(), 1);
    }
}

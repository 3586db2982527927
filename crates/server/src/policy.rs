//! Who gets served: access lists, per-source limits, and the rules that keep a UDP service from
//! being used to reflect traffic at third parties.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// `--allow` and `--deny`: which source addresses may be served, for both transports.
///
/// A source matching any `deny` network is refused. Otherwise, if there is any `allow` network,
/// the source must match one of them; with none, every source is allowed.
///
/// Both stacks see one address space: an IPv4 client of a dual-stack socket
/// (`::ffff:a.b.c.d`) is matched as IPv4, and an IPv4-mapped network (`::ffff:10.0.0.0/104`)
/// means the IPv4 network it maps (`10.0.0.0/8`). So `0.0.0.0/0` is every IPv4 client, on an
/// IPv4 socket or a dual-stack one, and `::/0` is every IPv6 client and no IPv4 one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Networks that may be served; empty for all.
    pub allow: Vec<IpNet>,
    /// Networks that are never served.
    pub deny: Vec<IpNet>,
}

impl Access {
    /// These lists with every IPv4-mapped network written as the IPv4 network it maps, as
    /// [`permits`](Self::permits) needs them; [`parse_network`] already gives them so.
    pub fn normalized(mut self) -> Self {
        for net in self.allow.iter_mut().chain(self.deny.iter_mut()) {
            *net = unmapped(*net);
        }
        self
    }

    /// Whether `ip` may be served. The lists must be [`normalized`](Self::normalized).
    pub fn permits(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        !self.deny.iter().any(|net| net.contains(&ip))
            && (self.allow.is_empty() || self.allow.iter().any(|net| net.contains(&ip)))
    }
}

/// Parses a network for `--allow` / `--deny`: CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single
/// address (`192.0.2.7`, a /32 or /128).
/// An IPv4-mapped network (`::ffff:a.b.c.d/N`) becomes the IPv4 network it maps, so that it
/// matches the IPv4 clients it names on either stack.
///
/// # Errors
/// A message saying how to write it, for the flag parser and the config file to show. A mapped
/// network wider than the mapped range (`::ffff:0:0/80`) is refused: it would mix IPv4 and IPv6
/// clients in one rule.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let net = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("`{text}` is not a network: write an address or CIDR, like 10.0.0.0/8 or ::1")
        })?;
    if let IpNet::V6(v6) = net
        && v6.prefix_len() < MAPPED_PREFIX
        && v6.addr().to_ipv4_mapped().is_some()
    {
        return Err(format!(
            "`{text}` is wider than the IPv4-mapped range ::ffff:0:0/96; write the IPv4 part \
             as an IPv4 network (0.0.0.0/0 for every IPv4 client) and the IPv6 part apart"
        ));
    }
    Ok(unmapped(net))
}

/// An access list as the log shows it: `10.0.0.0/8,::1/128`, or `-` when empty.
pub(crate) fn shown_networks(list: &[IpNet]) -> String {
    if list.is_empty() {
        return "-".to_owned();
    }
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The prefix of the IPv4-mapped range, `::ffff:0:0/96`.
const MAPPED_PREFIX: u8 = 96;

/// `net` as the IPv4 network it maps, if it is an IPv4-mapped one; otherwise `net`.
fn unmapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= MAPPED_PREFIX => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - MAPPED_PREFIX)
                .map_or(net, |v4| IpNet::V4(v4.trunc())),
            None => net,
        },
        net => net,
    }
}

/// Where a datagram came from, for per-source limits: the IPv4 address, or the IPv6 /64 (one
/// host usually holds a whole /64, so counting single IPv6 addresses would limit nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Source(u128);

impl Source {
    pub(crate) fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Source(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => Source((u128::from(v6) >> 64) | (1 << 127)),
        }
    }
}

/// Ports of the small services that answer anything they receive: echo, discard, systat,
/// daytime, netstat, qotd, chargen, time. Answering a datagram "from" one of them can start two
/// servers answering each other forever (CERT CA-1996-01); NetBSD's inetd refuses the same
/// ports in `port_good_dg`.
const SMALL_SERVICES: [u16; 8] = [7, 9, 11, 13, 15, 17, 19, 37];

/// Why a datagram must not be answered, if it must not: its source could be forged to make the
/// reply hit a third party or start a loop. `own_port` is the port the server listens on: a
/// datagram from that port on another host is most likely another upcase or echo server.
pub(crate) fn reflection_risk(from: SocketAddr, own_port: u16) -> Option<String> {
    let port = from.port();
    if port == 0 {
        return Some("source port 0 cannot be answered".into());
    }
    if SMALL_SERVICES.contains(&port) {
        return Some(format!(
            "source port {port} is a small service that answers anything"
        ));
    }
    if port == own_port {
        return Some(format!(
            "source port {port} is this service's own, as another server's would be"
        ));
    }
    let ip = from.ip().to_canonical();
    let what = match ip {
        IpAddr::V4(v4) if v4.is_broadcast() => "broadcast",
        IpAddr::V4(v4) if v4.octets()[0] == 0 => "unspecified",
        IpAddr::V6(v6) if v6.is_unspecified() => "unspecified",
        ip if ip.is_multicast() => "multicast",
        _ => return None,
    };
    Some(format!("source address {ip} is {what}"))
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

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("address")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn deny_wins_and_allow_narrows() {
        let everyone = Access::default();
        assert!(everyone.permits(ip("192.0.2.1")));
        let access = Access {
            allow: vec![
                "127.0.0.0/8".parse().expect("net"),
                "::1/128".parse().expect("net"),
            ],
            deny: vec!["127.0.0.2/32".parse().expect("net")],
        };
        assert!(access.permits(ip("127.0.0.1")));
        assert!(
            access.permits(ip("::ffff:127.0.0.1")),
            "mapped IPv4 matches IPv4 networks"
        );
        assert!(access.permits(ip("::1")));
        assert!(!access.permits(ip("127.0.0.2")));
        assert!(!access.permits(ip("::ffff:127.0.0.2")));
        assert!(!access.permits(ip("192.0.2.1")), "not in any allow network");
    }

    #[test]
    fn every_spelling_of_an_ipv4_rule_means_the_ipv4_network() {
        for (text, means) in [
            ("127.0.0.1", "127.0.0.1/32"),
            ("127.0.0.0/8", "127.0.0.0/8"),
            ("::ffff:127.0.0.1", "127.0.0.1/32"),
            ("::ffff:127.0.0.1/128", "127.0.0.1/32"),
            ("::ffff:127.0.0.0/104", "127.0.0.0/8"),
            ("::ffff:127.1.2.3/104", "127.0.0.0/8"),
            ("::ffff:0:0/96", "0.0.0.0/0"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("::/0", "::/0"),
        ] {
            assert_eq!(
                parse_network(text).map(|net| net.to_string()).as_deref(),
                Ok(means),
                "{text}"
            );
        }
        let wide = parse_network("::ffff:0:0/80").expect_err("mixes the stacks");
        assert!(wide.contains("0.0.0.0/0"), "{wide}");
        assert!(parse_network("::ffff:127.0.0.1/129").is_err());
        assert!(parse_network("localhost").is_err());
    }

    #[test]
    fn mapped_rules_given_as_values_match_on_both_stacks() {
        let deny = Access {
            allow: Vec::new(),
            deny: vec!["::ffff:127.0.0.1/128".parse().expect("net")],
        }
        .normalized();
        assert!(!deny.permits(ip("127.0.0.1")));
        assert!(!deny.permits(ip("::ffff:127.0.0.1")));
        assert!(deny.permits(ip("127.0.0.2")));
        let allow = Access {
            allow: vec!["::ffff:127.0.0.0/104".parse().expect("net")],
            deny: Vec::new(),
        }
        .normalized();
        assert!(allow.permits(ip("127.0.0.1")));
        assert!(allow.permits(ip("::ffff:127.9.9.9")));
        assert!(!allow.permits(ip("::1")));
        let v6_only = Access {
            allow: vec!["::/0".parse().expect("net")],
            deny: Vec::new(),
        }
        .normalized();
        assert!(v6_only.permits(ip("::1")));
        assert!(
            !v6_only.permits(ip("127.0.0.1")),
            "::/0 is IPv6 clients only"
        );
    }

    #[test]
    fn reflection_risks_are_named() {
        for (from, reason) in [
            ("192.0.2.1:0", "source port 0 cannot be answered"),
            (
                "192.0.2.1:7",
                "source port 7 is a small service that answers anything",
            ),
            (
                "[2001:db8::1]:19",
                "source port 19 is a small service that answers anything",
            ),
            (
                "192.0.2.1:12000",
                "source port 12000 is this service's own, as another server's would be",
            ),
            (
                "255.255.255.255:5000",
                "source address 255.255.255.255 is broadcast",
            ),
            ("0.0.0.0:5000", "source address 0.0.0.0 is unspecified"),
            ("[::]:5000", "source address :: is unspecified"),
            ("224.0.0.1:5000", "source address 224.0.0.1 is multicast"),
            ("[ff02::1]:5000", "source address ff02::1 is multicast"),
            (
                "[::ffff:239.1.2.3]:5000",
                "source address 239.1.2.3 is multicast",
            ),
        ] {
            assert_eq!(
                reflection_risk(addr(from), 12000).as_deref(),
                Some(reason),
                "{from}"
            );
        }
        for ok in ["192.0.2.1:5000", "[::1]:40000", "127.0.0.1:1024"] {
            assert_eq!(reflection_risk(addr(ok), 12000), None, "{ok}");
        }
        for port in [7, 9, 13, 17, 19, 37] {
            assert!(
                SMALL_SERVICES.contains(&port),
                "the ports the protocol names"
            );
        }
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

//! [`Options`]: the limits a server serves within, each a flag and a config key.

use std::time::Duration;

use crate::access::Access;
use crate::budget::DEFAULT_BUDGET;

/// Limits that shape how [`run`](crate::run) serves. The defaults suit a service left running on a public
/// host; each is a flag and a config key of `upcase server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Most TCP connections served at once. When all are busy, new connections wait in the
    /// kernel's listen queue until one closes; if that queue is full too, the kernel refuses them.
    pub max_connections: usize,
    /// Most TCP connections open at once from one source (an IPv4 address or an IPv6 /64);
    /// one more is closed at once. 0 for no limit.
    pub max_connections_per_source: usize,
    /// Most datagrams answered per second from one source; more are dropped. 0 for no limit.
    pub max_datagrams_per_source: u32,
    /// A connection that sends nothing and takes none of its replies for this long is closed.
    /// Zero for no limit.
    pub idle_timeout: Duration,
    /// Longest line, in bytes, for transforms that answer lines (`count=C`). A longer line ends
    /// the connection after the lines before it are answered; over UDP it gets no reply.
    pub max_line: usize,
    /// After shutdown, how long open connections get to finish on their own. Then each is
    /// answered for what it sent and closed.
    pub drain_timeout: Duration,
    /// Who may be served.
    pub access: Access,
    /// Most bytes that all TCP connections together may hold in replies not yet sent (at
    /// least 64 KiB). A connection that finds it spent waits, reading nothing more, until
    /// others' replies leave; none is dropped for it.
    pub buffer_budget: usize,
    /// Whether every TCP connection starts with a PROXY protocol header (version 1 or 2) from
    /// a load balancer, whose client address is then the one logged, limited and filtered.
    /// A connection without a valid header within 5 seconds (or the idle timeout, if shorter)
    /// is closed, and only the balancers of `proxy_from` may send one.
    pub proxy_protocol: bool,
    /// The load balancers in front of the server (`--proxy-from`): the only peers whose PROXY
    /// headers are believed, and whose datagrams, each relaying many clients, are not held to
    /// one source's rate. Empty: the loopback addresses (a balancer on the same host).
    /// IPv4-mapped and NAT64 networks here mean the IPv4 networks they embed, as in `access`.
    pub proxy_from: Vec<ipnet::IpNet>,
}

impl Options {
    /// Whether a peer at `ip` is one of the balancers in front of the server: named by
    /// `--proxy-from`, or on loopback when none is named.
    pub fn is_balancer(&self, ip: std::net::IpAddr) -> bool {
        if self.proxy_from.is_empty() {
            return crate::sources::canonical(ip).is_loopback();
        }
        crate::access::any_contains(&self.proxy_from, ip)
    }

    /// Whether datagrams from `ip` relay many clients, so that one source's rate means nothing
    /// for them: `ip` is a balancer `--proxy-from` names. (Loopback, the balancer assumed when
    /// none is named, is not exempt: it is also where local clients come from.)
    pub fn relays_datagrams(&self, ip: std::net::IpAddr) -> bool {
        !self.proxy_from.is_empty() && self.is_balancer(ip)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_connections_per_source: 256,
            max_datagrams_per_source: 1_000,
            idle_timeout: Duration::from_secs(300),
            max_line: 64 * 1024,
            drain_timeout: Duration::from_secs(5),
            access: Access::default(),
            buffer_budget: DEFAULT_BUDGET,
            proxy_protocol: false,
            proxy_from: Vec::new(),
        }
    }
}

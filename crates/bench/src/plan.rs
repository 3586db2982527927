//! [`Plan`]: a run to make, and [`Scenario`], what its workers are.

use crate::payload::ReplyCheck;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use upcase_transport::TlsWrap;

use crate::quic::QuicDial;
use crate::share::Share;

/// What the workers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Persistent stream connections, TCP or TLS.
    Tcp,
    /// A stream connection per request.
    Reconnect,
    /// Connected UDP sockets.
    Udp,
}

/// A run to make.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) scenario: Scenario,
    pub(crate) addr: SocketAddr,
    /// TLS over the stream connections, or plain TCP.
    pub(crate) tls: Option<TlsWrap>,
    /// QUIC instead of TCP: connections of streams.
    pub(crate) quic: Option<QuicDial>,
    /// Workers: connections, sockets, or connection-per-request loops.
    pub(crate) workers: usize,
    pub(crate) threads: usize,
    pub(crate) size: usize,
    /// What the replies are held to.
    pub(crate) check: ReplyCheck,
    pub(crate) window: usize,
    pub(crate) timeout: Duration,
    pub(crate) duration: Option<Duration>,
    pub(crate) requests: Option<u64>,
    /// Requests a second in all, open loop, asked of every generator sharing it.
    pub(crate) rate: Option<f64>,
    /// This generator's share of that rate.
    pub(crate) share: Share,
    /// When to start the load (its connections set up before), if not at once.
    pub(crate) start_at: Option<SystemTime>,
    /// How long the load runs before its figures start.
    pub(crate) warmup: Duration,
    /// The length of an interval.
    pub(crate) interval: Duration,
    /// Whether intervals report latency (`--interval`), or only count (the progress line).
    pub(crate) interval_latency: bool,
}

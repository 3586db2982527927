//! [`Plan`]: a run to make, and [`Kind`], what its workers are.

use std::net::SocketAddr;
use std::time::Duration;

use upcase_transport::TlsWrap;

use crate::quic::QuicDial;

/// What the workers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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
    pub(crate) kind: Kind,
    pub(crate) addr: SocketAddr,
    /// TLS over the stream connections, or plain TCP.
    pub(crate) tls: Option<TlsWrap>,
    /// QUIC instead of TCP: connections of streams.
    pub(crate) quic: Option<QuicDial>,
    /// Workers: connections, sockets, or connection-per-request loops.
    pub(crate) workers: usize,
    pub(crate) threads: usize,
    pub(crate) size: usize,
    pub(crate) window: usize,
    pub(crate) timeout: Duration,
    pub(crate) duration: Option<Duration>,
    pub(crate) requests: Option<u64>,
    /// Requests a second in all, open loop.
    pub(crate) rate: Option<f64>,
    /// The length of an interval.
    pub(crate) interval: Duration,
    /// Whether intervals report latency (`--interval`), or only count (the progress line).
    pub(crate) interval_latency: bool,
}

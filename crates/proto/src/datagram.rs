//! The UDP rules of the protocol: how large a datagram's payload can be, and how much larger
//! than its request a reply may be.

use std::net::SocketAddr;

/// The largest UDP payload over IPv4: 65535 less a 20-byte IP header and an 8-byte UDP header.
pub const MAX_DATAGRAM_V4: usize = 65_507;

/// The largest UDP payload over IPv6 without jumbograms: 65535 less the 8-byte UDP header (the
/// IPv6 header is not counted in its payload length).
pub const MAX_DATAGRAM_V6: usize = 65_527;

/// The largest payload that can be sent to `peer` in one datagram.
///
/// An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, as a dual-stack socket reports IPv4 peers)
/// travels as IPv4 and gets the IPv4 limit.
pub fn max_datagram(peer: SocketAddr) -> usize {
    match peer.ip().to_canonical() {
        std::net::IpAddr::V4(_) => MAX_DATAGRAM_V4,
        std::net::IpAddr::V6(_) => MAX_DATAGRAM_V6,
    }
}

/// A reply to a datagram may be at most this many times its request (RFC 9000 §8 sets the same
/// bound for QUIC): more would let a forged request make a server a traffic amplifier.
pub const MAX_AMPLIFICATION: usize = 3;

/// Whether `reply` may answer `request` by the amplification bound.
pub fn within_amplification(request: &[u8], reply: &[u8]) -> bool {
    reply.len() <= MAX_AMPLIFICATION.saturating_mul(request.len())
}

#[cfg(test)]
mod tests {
    use super::within_amplification;

    #[test]
    fn a_reply_may_be_three_times_its_request_and_no_more() {
        assert!(within_amplification(b"ab", b"abcdef"));
        assert!(!within_amplification(b"ab", b"abcdefg"));
        assert!(within_amplification(b"", b""));
        assert!(!within_amplification(b"", b"a"));
    }
}

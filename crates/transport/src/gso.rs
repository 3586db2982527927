//! UDP generic segmentation offload (Linux): the limits a segmented send keeps to, for the
//! server's replies (its UDP batches) and for any client that sends many datagrams of one
//! size on a connected socket (the load generator's requests), so that both keep to the same.

/// The most datagrams one segmented send may make (the kernel's `UDP_MAX_SEGMENTS`, which is 64
/// on older kernels).
pub const MAX_SEGMENTS: usize = 64;

/// The most bytes one segmented send may carry: a datagram's limit, less the headers.
pub const MAX_SEGMENTED: usize = 65_000;

/// The largest datagram sent segmented: a segment must fit the path's MTU, and this one fits
/// Ethernet's over IPv4 and IPv6 alike. Larger ones go one by one, where the kernel may
/// fragment them.
pub const MAX_SEGMENT: usize = 1_452;

/// How many datagrams of `size` bytes one segmented send may carry: 0 for a size that is not
/// sent segmented.
pub fn per_send(size: usize) -> usize {
    if size == 0 || size > MAX_SEGMENT {
        return 0;
    }
    MAX_SEGMENTS.min(MAX_SEGMENTED / size)
}

/// Asks the kernel to cut every send on `socket` into datagrams of `size` bytes; whether it
/// can (it cannot before Linux 4.18, nor anywhere else).
#[cfg(target_os = "linux")]
pub fn segment_sends(socket: &impl std::os::fd::AsFd, size: usize) -> bool {
    use nix::sys::socket::{setsockopt, sockopt};
    per_send(size) > 0
        && i32::try_from(size)
            .is_ok_and(|size| setsockopt(&socket.as_fd(), sockopt::UdpGsoSegment, &size).is_ok())
}

/// Asks the kernel to cut every send into datagrams of `size` bytes: no kernel but Linux's can.
#[cfg(not(target_os = "linux"))]
pub fn segment_sends<S>(_socket: &S, _size: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_carries_what_fits_the_limits_and_no_more() {
        assert_eq!(per_send(64), 64);
        assert_eq!(per_send(1_452), 44);
        assert_eq!(per_send(1_453), 0);
        assert_eq!(per_send(0), 0);
    }
}

//! The datagram path, without the socket: who is let in (--allow/--deny) and what one datagram
//! is answered with. It must never panic; a reply is whole or absent, never over three times its
//! request for the case transforms, and never over the size of a datagram unless the server's
//! size check would drop it.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use upcase_proto::{Builtin, MAX_DATAGRAM_V6, Transformer};
use upcase_server::{Access, parse_network};

fuzz_target!(|data: &[u8]| {
    if data.len() < 18 {
        return;
    }
    let (head, payload) = data.split_at(18);
    let mut v6 = [0; 16];
    v6.copy_from_slice(&head[..16]);
    let source = if head[16] & 1 == 0 {
        IpAddr::V4(Ipv4Addr::new(v6[0], v6[1], v6[2], v6[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(v6))
    };

    // Networks as a user might write them, from the payload's first line, parsed or refused.
    let text = String::from_utf8_lossy(payload.split(|&b| b == b'\n').next().unwrap_or(&[]));
    let nets: Vec<_> = text.split(',').filter_map(|n| parse_network(n.trim()).ok()).collect();
    let access = Access { allow: nets.clone(), deny: nets };
    if !access.allow.is_empty() {
        assert!(!access.permits(source) || access.deny.is_empty(), "deny wins over allow");
    }

    let payload = &payload[..payload.len().min(MAX_DATAGRAM_V6)];
    let names = ["upper", "lower", "echo", "count=s"];
    let transform: Builtin = names[head[17] as usize % names.len()].parse().expect("valid");
    let mut reply = Vec::new();
    let answered = Transformer::new(transform)
        .with_max_line(head[17] as usize * 64)
        .datagram(payload, &mut reply)
        .is_ok();
    if !answered {
        assert!(reply.is_empty(), "a datagram has one whole reply or none");
    }
    if matches!(transform, Builtin::Upper | Builtin::Lower) {
        assert!(reply.len() <= 3 * payload.len(), "case mapping grows text at most threefold");
    }
    if payload.is_empty() {
        assert!(reply.is_empty(), "a zero-length datagram gets a zero-length reply");
    }
});

//! `--allow` and `--deny`: which source addresses may be served, for both transports.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::sources::{canonical, nat64_embedded};

/// `--allow` and `--deny`: which source addresses may be served, for both transports.
///
/// A source matching any `deny` network is refused. Otherwise, if there is any `allow` network,
/// the source must match one of them; with none, every source is allowed.
///
/// Both stacks see one address space: an IPv4 client of a dual-stack socket
/// (`::ffff:a.b.c.d`), or one behind NAT64 (`64:ff9b::a.b.c.d`, RFC 6052), is matched as
/// IPv4, and an IPv4-mapped or NAT64 network (`::ffff:10.0.0.0/104`, `64:ff9b::10.0.0.0/104`)
/// means the IPv4 network it embeds (`10.0.0.0/8`). So `0.0.0.0/0` is every IPv4 client, on an
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
        normalize(&mut self.allow);
        normalize(&mut self.deny);
        self
    }

    /// Whether `ip` may be served. The lists must be [`normalized`](Self::normalized).
    pub fn permits(&self, ip: IpAddr) -> bool {
        !self.denies(ip) && (self.allow.is_empty() || any_contains(&self.allow, ip))
    }

    /// Whether `ip` is in a `deny` network, whatever `allow` says.
    pub fn denies(&self, ip: IpAddr) -> bool {
        any_contains(&self.deny, ip)
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
        && v6.prefix_len() < EMBEDDED_PREFIX
        && let Some(range) = embedding_range(v6.addr())
    {
        return Err(format!(
            "`{text}` is wider than the {range} range; write the IPv4 part as an IPv4 \
             network (0.0.0.0/0 for every IPv4 client) and the IPv6 part apart"
        ));
    }
    Ok(unmapped(net))
}

/// Writes every IPv4-mapped or NAT64 network of `list` as the IPv4 network it embeds, as
/// [`any_contains`] needs it; [`parse_network`] already gives them so.
pub(crate) fn normalize(list: &mut [IpNet]) {
    for net in list {
        *net = unmapped(*net);
    }
}

/// Whether `ip`, as rules see it ([`canonical`]), is in one of the [`normalize`]d `networks`.
pub(crate) fn any_contains(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    networks.iter().any(|net| net.contains(&ip))
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

/// The prefix length of the ranges that embed IPv4 addresses in their last 32 bits: the
/// IPv4-mapped `::ffff:0:0/96` and NAT64's well-known `64:ff9b::/96`.
const EMBEDDED_PREFIX: u8 = 96;

/// The name of the range that embeds IPv4 addresses in which `v6` lies, if any.
fn embedding_range(v6: std::net::Ipv6Addr) -> Option<&'static str> {
    if v6.to_ipv4_mapped().is_some() {
        Some("IPv4-mapped ::ffff:0:0/96")
    } else if nat64_embedded(v6).is_some() {
        Some("NAT64 64:ff9b::/96")
    } else {
        None
    }
}

/// `net` as the IPv4 network it embeds, if it is an IPv4-mapped or NAT64 one; otherwise `net`.
fn unmapped(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= EMBEDDED_PREFIX => {
            match canonical(IpAddr::V6(v6.addr())) {
                IpAddr::V4(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - EMBEDDED_PREFIX)
                    .map_or(net, |v4| IpNet::V4(v4.trunc())),
                IpAddr::V6(_) => net,
            }
        }
        net => net,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            ("64:ff9b::c000:201", "192.0.2.1/32"),
            ("64:ff9b::192.0.2.0/120", "192.0.2.0/24"),
            ("64:ff9b::/96", "0.0.0.0/0"),
            ("64:ff9b:1::c000:201", "64:ff9b:1::c000:201/128"),
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
        let nat64 = parse_network("64:ff9b::/64").expect_err("mixes NAT64 and IPv6");
        assert!(nat64.contains("NAT64 64:ff9b::/96"), "{nat64}");
        assert!(wide.contains("0.0.0.0/0"), "{wide}");
        assert!(parse_network("::ffff:127.0.0.1/129").is_err());
        assert!(parse_network("localhost").is_err());
    }

    #[test]
    fn nat64_clients_are_matched_as_the_ipv4_address_they_carry() {
        let deny = Access {
            allow: Vec::new(),
            deny: vec![parse_network("192.0.2.1").expect("net")],
        };
        assert!(
            !deny.permits(ip("64:ff9b::c000:201")),
            "192.0.2.1 behind NAT64"
        );
        assert!(deny.permits(ip("64:ff9b::c000:202")));
        let by_prefix = Access {
            allow: Vec::new(),
            deny: vec![parse_network("64:ff9b::c000:201").expect("net")],
        };
        assert!(
            !by_prefix.permits(ip("192.0.2.1")),
            "the rule means the IPv4 address"
        );
        assert_eq!(canonical(ip("64:ff9b::7f00:1")), ip("127.0.0.1"));
        assert_eq!(
            canonical(ip("64:ff9b:0:1::7f00:1")),
            ip("64:ff9b:0:1::7f00:1")
        );
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
}

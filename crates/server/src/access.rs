//! `--allow` and `--deny`: which source addresses may be served, for both transports.

use std::net::IpAddr;

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
}

//! [`resolve`]: from a host name or address to every socket address to try.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::describe::describe;
use crate::error::TransportError;

/// Checks a `--host` value: a name or an address, without a port. `localhost:12000`,
/// `127.0.0.1:12000` and `[::1]:12000` are refused with the port to give to `--port` instead,
/// rather than failing later to resolve; `::1` and `[::1]` are addresses, not ports.
///
/// # Errors
/// A message saying how to write it, for the flag parser to show.
pub fn parse_host(text: &str) -> Result<String, String> {
    let port_of = |text: &str| -> Option<(String, String)> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Some((addr.ip().to_string(), addr.port().to_string()));
        }
        // A name with a port: one colon, digits after it. An IPv6 address has two or more.
        let (name, port) = text.rsplit_once(':')?;
        (!name.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (name.to_owned(), port.to_owned()))
    };
    if text.is_empty() {
        return Err("is empty; give a name or an address, like localhost or ::1".into());
    }
    match port_of(text) {
        Some((host, port)) => Err(format!(
            "`{text}` has a port in it; write --host {host} --port {port}"
        )),
        None => Ok(text.to_owned()),
    }
}

/// Every address `host` resolves to with `port`, in the resolver's order, without repeats.
/// `host` is a name, an IPv4 address, or an IPv6 address with or without brackets (as URLs and
/// the server's ready lines write it).
///
/// `localhost` and the names under `.localhost` are loopback by RFC 6761 §6.3: they give
/// 127.0.0.1 and then ::1 without asking the system's resolver, as curl and the browsers do.
/// So a DNS server or a hosts file cannot send them elsewhere, and a one-shot client pays
/// for no resolver thread. IPv4 goes first because that is where the textbook's servers
/// listen (`''` is 0.0.0.0); a server on ::1 alone is reached on the second try.
///
/// # Errors
/// [`TransportError::Resolve`] when the name does not resolve, or resolves to nothing.
pub async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, TransportError> {
    let name = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let failed = |reason: String| TransportError::Resolve {
        host: host.to_owned(),
        reason,
    };
    if is_localhost(name) {
        return Ok(vec![
            (Ipv4Addr::LOCALHOST, port).into(),
            (Ipv6Addr::LOCALHOST, port).into(),
        ]);
    }
    let found = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| failed(describe(&e)))?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in found {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(failed("no addresses".into()));
    }
    Ok(addrs)
}

/// `localhost`, `localhost.`, or a name ending in `.localhost`, in any case.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::{is_localhost, parse_host};

    #[test]
    fn localhost_names_are_loopback_without_the_resolver() {
        for name in [
            "localhost",
            "LocalHost",
            "localhost.",
            "www.localhost",
            "a.b.localhost.",
        ] {
            assert!(is_localhost(name), "{name}");
        }
        for name in [
            "localhost.example",
            "notlocalhost",
            "localhostx",
            "127.0.0.1",
            "",
            ".",
        ] {
            assert!(!is_localhost(name), "{name}");
        }
    }

    #[tokio::test]
    async fn localhost_gives_both_loopbacks_ipv4_first() {
        let addrs = super::resolve("localhost", 7).await.expect("localhost");
        let want: Vec<std::net::SocketAddr> = vec![
            "127.0.0.1:7".parse().expect("v4"),
            "[::1]:7".parse().expect("v6"),
        ];
        assert_eq!(addrs, want);
    }

    #[test]
    fn a_host_with_a_port_points_at_the_port_flag() {
        for (text, advice) in [
            ("localhost:12000", "--host localhost --port 12000"),
            ("127.0.0.1:12000", "--host 127.0.0.1 --port 12000"),
            ("[::1]:12000", "--host ::1 --port 12000"),
            ("example.org:7", "--host example.org --port 7"),
        ] {
            let error = parse_host(text).expect_err(text);
            assert!(error.contains(advice), "{text}: {error}");
        }
        for host in [
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "fe80::1",
            "::ffff:127.0.0.1",
            "a.b",
        ] {
            assert_eq!(parse_host(host).as_deref(), Ok(host), "{host}");
        }
        assert!(parse_host("").is_err());
    }
}

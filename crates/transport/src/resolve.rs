//! [`resolve`]: from a host name or address to every socket address to try.

use std::net::SocketAddr;

use crate::{TransportError, describe};

/// Every address `host` resolves to with `port`, in the resolver's order, without repeats.
/// `host` is a name, an IPv4 address, or an IPv6 address with or without brackets (as URLs and
/// the server's ready lines write it).
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

//! [`Sockets`]: one worker's server sockets, each with its transport, as bound for each worker
//! or inherited from systemd.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use upcase_transport::{BoundSocket, Sharing, TransportError};

use crate::config::Settings;
use crate::served::Served;

/// How many times to look for a port free for both UDP and TCP when port 0 is asked for.
const PORT_SEARCH: usize = 16;

/// One worker's server sockets, each with the transport that serves it, in the order of the
/// ready lines.
#[derive(Debug, Default)]
pub(crate) struct Sockets(pub(crate) Vec<Listening>);

/// A bound server socket and the transport that serves it.
#[derive(Debug)]
pub(crate) struct Listening {
    pub(crate) served: Served,
    pub(crate) socket: BoundSocket,
}

impl Sockets {
    /// The transports served, for the log: `udp, tcp and tls`.
    pub(crate) fn transports(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|each| each.served.name()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }

    /// One `listening on PROTO ADDR` line per socket.
    ///
    /// # Errors
    /// When the system cannot say a socket's address.
    pub(crate) fn ready_lines(&self) -> io::Result<Vec<String>> {
        self.0
            .iter()
            .map(|Listening { served, socket }| {
                Ok(format!(
                    "listening on {} {}",
                    served.name(),
                    socket.local_addr()?
                ))
            })
            .collect()
    }
}

/// Binds `transports` for each worker: UDP and TCP on one port, TLS and QUIC each on its own.
pub(crate) fn bind(
    settings: &Settings,
    transports: &[Served],
) -> Result<Vec<Sockets>, TransportError> {
    match settings.bind {
        Some(ip) => bind_on(ip, settings, transports),
        // Every address: IPv6 dual-stack takes IPv4 clients too. Where the host has no IPv6,
        // IPv4 alone; but a port in use or a forbidden port is the same on both, so say so.
        None => match bind_on(IpAddr::V6(Ipv6Addr::UNSPECIFIED), settings, transports) {
            Err(TransportError::Bind { source, .. })
                if !matches!(
                    source.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                ) =>
            {
                bind_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), settings, transports)
            }
            bound => bound,
        },
    }
}

fn bind_on(
    ip: IpAddr,
    settings: &Settings,
    transports: &[Served],
) -> Result<Vec<Sockets>, TransportError> {
    // The ports are first claimed exclusively, so that a port held by anything, another upcase
    // server included, is an error rather than silently shared.
    let claimed = claim(ip, settings, transports)?;
    if settings.workers == 1 {
        return Ok(vec![Sockets(claimed)]);
    }
    let ports = claimed
        .iter()
        .map(|Listening { served, socket }| Ok((served.clone(), socket.local_addr()?.port())))
        .collect::<Result<Vec<_>, TransportError>>()?;
    drop(claimed);
    (0..settings.workers)
        .map(|_| {
            ports
                .iter()
                .map(|(served, port)| {
                    let at = SocketAddr::new(ip, *port);
                    Ok(Listening {
                        served: served.clone(),
                        socket: served.bind_socket(at, Sharing::Shared)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Sockets)
        })
        .collect()
}

/// Binds each transport exclusively: those of `--port` together on one port, TLS and QUIC each
/// on its own.
fn claim(
    ip: IpAddr,
    settings: &Settings,
    transports: &[Served],
) -> Result<Vec<Listening>, TransportError> {
    let of = |kind: fn(&Served) -> bool| transports.iter().filter(|s| kind(s)).collect();
    let plain: Vec<&Served> = of(|s| matches!(s, Served::Udp(_) | Served::Tcp(_)));
    let tls: Vec<&Served> = of(|s| matches!(s, Served::Tls(_)));
    let quic: Vec<&Served> = of(|s| matches!(s, Served::Quic(_)));
    let mut claimed = Vec::new();
    for group in [plain, tls, quic] {
        if let Some(first) = group.first() {
            claimed.extend(claim_together(ip, first.port(settings), &group)?);
        }
    }
    Ok(claimed)
}

/// Binds every transport of `group` on one port. With port 0 the system picks the first one's
/// port, which another may have in use elsewhere; then pick again.
fn claim_together(
    ip: IpAddr,
    port: u16,
    group: &[&Served],
) -> Result<Vec<Listening>, TransportError> {
    let mut tries = 0;
    'search: loop {
        let mut bound = Vec::with_capacity(group.len());
        let mut at = SocketAddr::new(ip, port);
        for served in group {
            match served.bind_socket(at, Sharing::Exclusive) {
                Ok(socket) => {
                    at.set_port(socket.local_addr()?.port());
                    bound.push(Listening {
                        served: (*served).clone(),
                        socket,
                    });
                }
                Err(TransportError::Bind { source, .. })
                    if port == 0
                        && !bound.is_empty()
                        && source.kind() == io::ErrorKind::AddrInUse
                        && tries < PORT_SEARCH =>
                {
                    tries += 1;
                    continue 'search;
                }
                Err(error) => return Err(error),
            }
        }
        return Ok(bound);
    }
}

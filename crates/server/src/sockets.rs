//! [`Sockets`]: one TCP and one UDP server socket at most, as bound for each worker, or
//! inherited from systemd.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use upcase_transport::{BoundSocket, Sharing, Tcp, Transport, TransportError, Udp};

use crate::Settings;

/// How many times to look for a port free for both UDP and TCP when port 0 is asked for.
const PORT_SEARCH: usize = 16;

/// One worker's server sockets: TCP, UDP, or both.
#[derive(Debug, Default)]
pub(crate) struct Sockets {
    pub(crate) tcp: Option<BoundSocket>,
    pub(crate) udp: Option<BoundSocket>,
}

impl Sockets {
    /// The sockets with their transport's name, UDP first, as the ready lines list them.
    pub(crate) fn named(&self) -> impl Iterator<Item = (&'static str, &BoundSocket)> {
        [(Udp::NAME, &self.udp), (Tcp::NAME, &self.tcp)]
            .into_iter()
            .filter_map(|(name, socket)| socket.as_ref().map(|socket| (name, socket)))
    }

    /// The first socket there is.
    fn first(&self) -> Option<&BoundSocket> {
        self.tcp.as_ref().or(self.udp.as_ref())
    }

    /// The transports served, for the log.
    pub(crate) fn transports(&self) -> &'static str {
        match (&self.tcp, &self.udp) {
            (Some(_), Some(_)) => "udp and tcp",
            (Some(_), None) => "tcp",
            _ => "udp",
        }
    }

    /// One `listening on PROTO ADDR` line per socket.
    ///
    /// # Errors
    /// When the system cannot say a socket's address.
    pub(crate) fn ready_lines(&self) -> io::Result<Vec<String>> {
        self.named()
            .map(|(name, socket)| Ok(format!("listening on {name} {}", socket.local_addr()?)))
            .collect()
    }
}

/// Binds the transports the settings ask for, on one port, for each worker.
pub(crate) fn bind(settings: &Settings) -> Result<Vec<Sockets>, TransportError> {
    match settings.bind {
        Some(ip) => bind_on(ip, settings),
        // Every address: IPv6 dual-stack takes IPv4 clients too. Where the host has no IPv6,
        // IPv4 alone; but a port in use or a forbidden port is the same on both, so say so.
        None => match bind_on(IpAddr::V6(Ipv6Addr::UNSPECIFIED), settings) {
            Err(TransportError::Bind { source, .. })
                if !matches!(
                    source.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                ) =>
            {
                bind_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), settings)
            }
            bound => bound,
        },
    }
}

fn bind_on(ip: IpAddr, settings: &Settings) -> Result<Vec<Sockets>, TransportError> {
    // The port is first claimed exclusively, so that a port held by anything, another upcase
    // server included, is an error rather than silently shared.
    let claimed = claim(ip, settings)?;
    if settings.workers == 1 {
        return Ok(vec![claimed]);
    }
    let port = match claimed.first() {
        Some(socket) => socket.local_addr()?.port(),
        None => settings.port,
    };
    drop(claimed);
    let at = SocketAddr::new(ip, port);
    (0..settings.workers)
        .map(|_| {
            let tcp = settings
                .tcp
                .then(|| Tcp::bind_socket(at, Sharing::Shared))
                .transpose()?;
            let udp = settings
                .udp
                .then(|| Udp::bind_socket(at, Sharing::Shared))
                .transpose()?;
            Ok(Sockets { tcp, udp })
        })
        .collect()
}

/// Binds each transport the settings ask for exclusively, on one port.
fn claim(ip: IpAddr, settings: &Settings) -> Result<Sockets, TransportError> {
    let at = SocketAddr::new(ip, settings.port);
    if !settings.tcp {
        let udp = Udp::bind_socket(at, Sharing::Exclusive)?;
        return Ok(Sockets {
            tcp: None,
            udp: Some(udp),
        });
    }
    if !settings.udp {
        let tcp = Tcp::bind_socket(at, Sharing::Exclusive)?;
        return Ok(Sockets {
            tcp: Some(tcp),
            udp: None,
        });
    }
    // Both on one port. With port 0 the system picks TCP's port, which UDP may have in use
    // elsewhere; then pick again.
    let mut tries = 0;
    loop {
        let tcp = Tcp::bind_socket(at, Sharing::Exclusive)?;
        let port = tcp.local_addr()?.port();
        match Udp::bind_socket(SocketAddr::new(ip, port), Sharing::Exclusive) {
            Ok(udp) => {
                return Ok(Sockets {
                    tcp: Some(tcp),
                    udp: Some(udp),
                });
            }
            Err(TransportError::Bind { source, .. })
                if settings.port == 0
                    && source.kind() == io::ErrorKind::AddrInUse
                    && tries < PORT_SEARCH =>
            {
                tries += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

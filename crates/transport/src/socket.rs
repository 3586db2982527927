//! Building listening sockets. std and tokio bind with the system's defaults; a server wants a
//! few choices made explicitly, which socket2 exposes.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

use crate::Sharing;

/// A non-blocking socket bound to `addr`, not yet listening.
///
/// An unspecified IPv6 address is made dual-stack whatever the system default, so that `::`
/// means "every address" as users expect. TCP sockets get `SO_REUSEADDR`, so that a restarted
/// server can bind while connections of the last one linger in TIME_WAIT; it does not let two
/// servers share a port on Linux; [`Sharing::Shared`] does, for the sockets of one server.
pub(crate) fn bound(addr: SocketAddr, kind: Type, sharing: Sharing) -> io::Result<Socket> {
    let protocol = if kind == Type::STREAM {
        Protocol::TCP
    } else {
        Protocol::UDP
    };
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false)?;
    }
    if kind == Type::STREAM {
        socket.set_reuse_address(true)?;
    }
    if sharing == Sharing::Shared {
        set_reuse_port(&socket)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// The IP address and port `socket` is bound to, with the real port when port 0 was asked for.
pub(crate) fn local_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("the socket is bound to an address that is not IP"))
}

#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
fn set_reuse_port(_: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "this system cannot share a port between sockets (SO_REUSEPORT); use one worker",
    ))
}

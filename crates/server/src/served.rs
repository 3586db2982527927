//! [`Served`]: the transports a server serves, chosen once from the settings, each a value
//! carrying its own configuration. This is the one place that lists them: below it, code is
//! generic over a transport or takes one as a value.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use upcase_proto::Builtin;
use upcase_transport::{
    BoundSocket, DEFAULT_HANDSHAKE_TIMEOUT, Sharing, Tcp, Tls, TlsKeys, Transport, TransportError,
    Udp,
};

use crate::{Serve, ServerError, Service, Settings, serve};

/// A transport the server serves.
#[derive(Debug, Clone)]
pub(crate) enum Served {
    Udp(Udp),
    Tcp(Tcp),
    Tls(Tls),
}

impl Served {
    /// The transports `settings` ask for, in the order of the ready lines; TLS with `keys`.
    pub(crate) fn chosen(settings: &Settings, keys: Option<&TlsKeys>) -> Vec<Served> {
        let mut chosen = Vec::new();
        if settings.udp {
            chosen.push(Served::Udp(Udp));
        }
        if settings.tcp {
            chosen.push(Served::Tcp(Tcp));
        }
        if let Some(keys) = keys {
            let tls = Tls::server(keys.clone()).with_handshake_timeout(handshake_timeout(settings));
            chosen.push(Served::Tls(tls));
        }
        chosen
    }

    /// The transport's name, as users write it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Served::Udp(_) => Udp::NAME,
            Served::Tcp(_) => Tcp::NAME,
            Served::Tls(_) => Tls::NAME,
        }
    }

    /// The port `settings` give this transport.
    pub(crate) fn port(&self, settings: &Settings) -> u16 {
        match self {
            Served::Tls(_) => settings.tls_port,
            Served::Udp(_) | Served::Tcp(_) => settings.port,
        }
    }

    /// Binds a socket for this transport.
    pub(crate) fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError> {
        match self {
            Served::Udp(udp) => udp.bind_socket(addr, sharing),
            Served::Tcp(tcp) => tcp.bind_socket(addr, sharing),
            Served::Tls(tls) => tls.bind_socket(addr, sharing),
        }
    }

    /// Serves `socket` on the calling thread's runtime until `stop`, on a task of its own.
    pub(crate) fn spawn(
        &self,
        socket: BoundSocket,
        transform: Builtin,
        service: &Arc<Service>,
        stop: &CancellationToken,
    ) -> Result<JoinHandle<()>, ServerError> {
        match self {
            Served::Udp(udp) => spawn_on(udp, socket, transform, service, stop),
            Served::Tcp(tcp) => spawn_on(tcp, socket, transform, service, stop),
            Served::Tls(tls) => spawn_on(tls, socket, transform, service, stop),
        }
    }
}

/// Serves `socket` over `transport` on a task of its own, until `stop`.
fn spawn_on<T: Transport>(
    transport: &T,
    socket: BoundSocket,
    transform: Builtin,
    service: &Arc<Service>,
    stop: &CancellationToken,
) -> Result<JoinHandle<()>, ServerError>
where
    T::Server: Serve,
{
    let socket = transport.listen(socket).map_err(ServerError::Bind)?;
    let (service, stop) = (Arc::clone(service), stop.clone());
    Ok(tokio::spawn(async move {
        serve(socket, transform, &service, stop.cancelled()).await;
    }))
}

/// How long a TLS handshake may take: ten seconds, or the idle timeout if that is shorter.
fn handshake_timeout(settings: &Settings) -> Duration {
    match settings.options.idle_timeout {
        idle if idle.is_zero() => DEFAULT_HANDSHAKE_TIMEOUT,
        idle => idle.min(DEFAULT_HANDSHAKE_TIMEOUT),
    }
}

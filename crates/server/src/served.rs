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
    BoundSocket, DEFAULT_HANDSHAKE_TIMEOUT, Quic, Sharing, Tcp, Tls, TlsKeys, Transport,
    TransportError, Udp,
};

use crate::config::Settings;
use crate::error::ServerError;
use crate::run::{Serve, serve};
use crate::service::Service;

/// A transport the server serves.
#[derive(Debug, Clone)]
pub(crate) enum Served {
    Udp(Udp),
    Tcp(Tcp),
    Tls(Tls),
    Quic(Quic),
}

impl Served {
    /// The transports `settings` ask for, in the order of the ready lines; TLS and QUIC with
    /// `keys`.
    pub(crate) fn chosen(settings: &Settings, keys: Option<&TlsKeys>) -> Vec<Served> {
        let mut chosen = Vec::new();
        if settings.udp {
            chosen.push(Served::Udp(Udp));
        }
        if settings.tcp {
            chosen.push(Served::Tcp(Tcp));
        }
        let Some(keys) = keys else {
            return chosen;
        };
        let handshake = handshake_timeout(settings);
        if settings.tls.is_some() {
            let tls = Tls::server(keys.clone()).with_handshake_timeout(handshake);
            chosen.push(Served::Tls(tls));
        }
        if settings.quic.is_some() {
            let quic = Quic::server(keys.clone())
                .with_handshake_timeout(handshake)
                .with_idle_timeout(settings.options.idle_timeout);
            chosen.push(Served::Quic(quic));
        }
        chosen
    }

    /// The transport's name, as users write it.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Served::Udp(_) => Udp::NAME,
            Served::Tcp(_) => Tcp::NAME,
            Served::Tls(_) => Tls::NAME,
            Served::Quic(_) => Quic::NAME,
        }
    }

    /// The port `settings` give this transport.
    pub(crate) fn port(&self, settings: &Settings) -> u16 {
        match self {
            Served::Tls(_) => settings.tls_port,
            Served::Quic(_) => settings.quic_port,
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
            Served::Quic(quic) => quic.bind_socket(addr, sharing),
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
            Served::Quic(quic) => spawn_on(quic, socket, transform, service, stop),
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

/// How long a TLS or QUIC handshake may take: ten seconds, or the idle timeout if that is shorter.
fn handshake_timeout(settings: &Settings) -> Duration {
    match settings.options.idle_timeout {
        idle if idle.is_zero() => DEFAULT_HANDSHAKE_TIMEOUT,
        idle => idle.min(DEFAULT_HANDSHAKE_TIMEOUT),
    }
}

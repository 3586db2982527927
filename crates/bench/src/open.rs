//! What each worker of a run starts with, opened before the load starts (a connection, TLS's
//! or QUIC's handshake made, a socket), and the loop that serves it to the run's end.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;
use upcase_transport::{Plain, TlsWire, TlsWrap, Wrap};

use crate::load::Load;
use crate::plan::{Plan, Scenario};
use crate::quic::QuicDial;
use crate::reconnect::reconnecting;
use crate::tally::Shard;
use crate::{tcp, udp};

/// How long a connection may take to be set up before the run gives up: a server with a
/// short listen queue makes some handshakes wait for a SYN sent again (1 s, then 3 s).
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// What one worker starts with.
pub(crate) enum Opened {
    Tcp(TcpStream),
    Tls(Box<TlsWire>),
    /// Kept beside its connection, which it drives.
    Quic(quinn::Endpoint, quinn::Connection),
    Udp(UdpSocket),
    /// Nothing yet: a connection-per-request loop makes a connection for each request.
    PerRequest,
}

pub(crate) async fn open_all(plan: &Plan, count: usize) -> io::Result<Vec<Opened>> {
    let mut opened = Vec::with_capacity(count);
    for _ in 0..count {
        opened.push(open(plan).await?);
    }
    Ok(opened)
}

async fn open(plan: &Plan) -> io::Result<Opened> {
    match plan.scenario {
        Scenario::Tcp if plan.quic.is_some() => {
            let dial = plan
                .quic
                .as_ref()
                .ok_or_else(|| io::Error::other("no QUIC"))?;
            let (endpoint, connection) = dial.connect(plan.addr, CONNECT_PATIENCE).await?;
            Ok(Opened::Quic(endpoint, connection))
        }
        Scenario::Tcp => {
            let late = || {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection was set up within {CONNECT_PATIENCE:?}"),
                )
            };
            let stream = timeout(CONNECT_PATIENCE, TcpStream::connect(plan.addr))
                .await
                .map_err(|_| late())??;
            stream.set_nodelay(true)?;
            let Some(tls) = &plan.tls else {
                return Ok(Opened::Tcp(stream));
            };
            let wrapped = tls
                .wrap(stream, plan.addr, CONNECT_PATIENCE)
                .await
                .map_err(|error| io::Error::other(error.to_string()))?;
            Ok(Opened::Tls(Box::new(TlsWire::from(wrapped.stream))))
        }
        Scenario::Udp => {
            let local: SocketAddr = match plan.addr {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let socket = UdpSocket::bind(local).await?;
            socket.connect(plan.addr).await?;
            Ok(Opened::Udp(socket))
        }
        Scenario::Reconnect => Ok(Opened::PerRequest),
    }
}

/// What makes a connection per request: TCP, TLS or QUIC.
pub(crate) enum Dialer {
    Tcp,
    Tls(TlsWrap),
    Quic(QuicDial),
}

impl Dialer {
    pub(crate) fn of(plan: &Plan) -> Self {
        match (&plan.tls, &plan.quic) {
            (_, Some(quic)) => Dialer::Quic(quic.clone()),
            (Some(tls), None) => Dialer::Tls(tls.clone()),
            (None, None) => Dialer::Tcp,
        }
    }
}

pub(crate) async fn serve(
    opened: Opened,
    addr: SocketAddr,
    dial: &Dialer,
    load: &Load,
    worker: usize,
    shard: &Shard,
) -> io::Result<()> {
    let schedule = load.schedule(worker);
    match opened {
        Opened::Tcp(stream) => tcp::connection(stream, load, schedule, shard).await,
        Opened::Tls(wire) => tcp::connection(*wire, load, schedule, shard).await,
        Opened::Quic(endpoint, connection) => {
            let loaded = crate::quic::connection(connection.clone(), load, schedule, shard).await;
            // Told, the server frees the connection now rather than at its idle timeout.
            connection.close(0u32.into(), b"done");
            let _ = timeout(Duration::from_millis(100), endpoint.wait_idle()).await;
            loaded
        }
        Opened::Udp(socket) => udp::socket(socket, load, schedule, shard).await,
        Opened::PerRequest => match dial {
            Dialer::Quic(quic) => reconnecting(quic, addr, load, schedule, shard).await,
            Dialer::Tls(tls) => reconnecting(tls, addr, load, schedule, shard).await,
            Dialer::Tcp => reconnecting(&Plain, addr, load, schedule, shard).await,
        },
    }
}

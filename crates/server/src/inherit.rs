//! Sockets the server is handed rather than binds: systemd's socket activation (`LISTEN_FDS`)
//! and inetd's socket on standard input (`--inetd`).

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use socket2::{SockRef, Type};
use tokio::time::sleep;
use tracing::info;
use upcase_transport::{Accepted, BoundSocket, Tcp, Transport, Udp};

use crate::accept::serve_connection;
use crate::config::Settings;
use crate::error::ServerError;
use crate::run::serve;
use crate::served::Served;
use crate::service::Service;
use crate::sockets::{Listening, Sockets};

/// The sockets systemd passed (`LISTEN_FDS`, `LISTEN_PID`), if it passed any: a listening TCP
/// socket, a UDP socket, or one of each.
///
/// # Errors
/// [`ServerError::Inherited`] when a passed socket is of another kind, or two are of one kind.
pub(crate) fn from_systemd() -> Result<Option<Sockets>, ServerError> {
    let mut passed = listenfd::ListenFd::from_env();
    if passed.len() == 0 {
        return Ok(None);
    }
    let mut sockets = Sockets::default();
    for index in 0..passed.len() {
        let bad = |why: String| {
            ServerError::Inherited(format!("socket {} of LISTEN_FDS {why}", index + 3))
        };
        let (served, socket) = if let Ok(Some(listener)) = passed.take_tcp_listener(index) {
            (Served::Tcp(Tcp), BoundSocket::from_tcp_listener(listener))
        } else if let Ok(Some(socket)) = passed.take_udp_socket(index) {
            (Served::Udp(Udp), BoundSocket::from_udp_socket(socket))
        } else {
            return Err(bad(
                "is neither a TCP nor a UDP socket; give upcase ListenStream= and ListenDatagram= sockets".into(),
            ));
        };
        let socket = socket.map_err(|error| bad(format!("cannot be used: {error}")))?;
        if sockets
            .0
            .iter()
            .any(|known| known.served.name() == served.name())
        {
            return Err(bad(
                "is a second socket of its kind; give upcase one TCP and one UDP socket at most"
                    .into(),
            ));
        }
        sockets.0.push(Listening { served, socket });
    }
    // In the order of bound sockets' ready lines: UDP first.
    sockets
        .0
        .sort_by_key(|each| each.served.name() != Udp::NAME);
    Ok(Some(sockets))
}

/// Whether standard error is a socket, as it is under inetd, which hands the connection to
/// standard input, output and error alike: logging there would talk to the client.
pub fn stderr_is_a_socket() -> bool {
    SockRef::from(&io::stderr()).r#type().is_ok()
}

/// `--inetd`: serves the socket on standard input. A connected TCP socket (inetd's `nowait`)
/// is served to its end, or drained as `serve` drains its connections once `shutdown`
/// completes; a UDP socket (`wait`) is served until `--idle-timeout` passes without a datagram,
/// so that inetd takes the port back, or until `shutdown` completes.
///
/// # Errors
/// [`ServerError::Inherited`] when standard input is not such a socket.
pub(crate) async fn inetd(
    settings: &Settings,
    service: &Arc<Service>,
    shutdown: impl Future + Send,
) -> Result<(), ServerError> {
    let stdin = io::stdin();
    let bad = |why: &str| {
        ServerError::Inherited(format!(
            "--inetd needs {why} on standard input, as inetd gives; run it from inetd, or without --inetd"
        ))
    };
    let kind = SockRef::from(&stdin)
        .r#type()
        .map_err(|_| bad("a socket"))?;
    let owned = stdin
        .as_fd()
        .try_clone_to_owned()
        .map_err(|error| ServerError::Inherited(format!("cannot take standard input: {error}")))?;
    if kind == Type::STREAM {
        let stream = std::net::TcpStream::from(owned);
        let incoming = Accepted::from_std(stream)
            .map_err(|_| bad("a connected TCP socket (inetd's nowait)"))?;
        let served = serve_connection(incoming, settings.transform, service);
        tokio::pin!(served);
        tokio::select! {
            () = &mut served => {}
            _ = shutdown => service.drain_connection(served).await,
        }
        return Ok(());
    }
    if kind != Type::DGRAM {
        return Err(bad("a TCP or UDP socket"));
    }
    let socket = BoundSocket::from_udp_socket(std::net::UdpSocket::from(owned))
        .and_then(|socket| Udp.listen(socket).map_err(io::Error::other))
        .map_err(|_| bad("a bound UDP socket (inetd's wait)"))?;
    let idle = settings.options.idle_timeout;
    let ended = async {
        tokio::select! {
            () = quiet_for(service, idle) => {
                info!("no datagram for {idle:?} (--idle-timeout); leaving the port to inetd");
            }
            _ = shutdown => {}
        }
    };
    serve(socket, settings.transform, service, ended).await;
    Ok(())
}

/// Completes once `service` has seen no traffic for `idle`; never, if `idle` is zero.
async fn quiet_for(service: &Service, idle: Duration) {
    if idle.is_zero() {
        return std::future::pending().await;
    }
    let mut seen = service.totals();
    loop {
        sleep(idle).await;
        let now = service.totals();
        if now == seen {
            return;
        }
        seen = now;
    }
}

//! [`command`]: the `upcase server` command, from flags to a running server.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use upcase_proto::Transform;
use upcase_transport::{Listener, Tcp, Transport, TransportError, Udp};

use crate::{ServerArgs, ServerError, Settings, Totals, run};

/// How many times to look for a port free for both UDP and TCP when port 0 is asked for.
const PORT_SEARCH: usize = 16;

/// Runs `upcase server`: resolves the settings, binds, prints one `listening on PROTO ADDR` line
/// per socket on stdout, and serves until Ctrl-C or SIGTERM, then drains and returns.
///
/// # Errors
/// [`ServerError`] when the settings are wrong or a socket cannot be bound.
pub async fn command(args: ServerArgs) -> Result<(), ServerError> {
    let settings = Settings::resolve(&args)?;
    // Installed before the ready lines, so that a signal sent as soon as they appear is
    // handled, not fatal.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;

    let (tcp, udp) = bind(&settings).await.map_err(ServerError::Bind)?;
    for (name, addr) in [
        (Udp::NAME, udp.as_ref().map(Listener::local_addr)),
        (Tcp::NAME, tcp.as_ref().map(Listener::local_addr)),
    ] {
        if let Some(addr) = addr {
            println!(
                "listening on {name} {}",
                addr.map_err(|e| ServerError::Bind(e.into()))?
            );
        }
    }
    raise_open_file_limit(&settings);
    info!("serving {}", describe(&settings));

    let stop = CancellationToken::new();
    let watch = {
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = interrupt.recv() => info!("interrupted; shutting down"),
                _ = terminate.recv() => info!("terminated; shutting down"),
                () = stop.cancelled() => {}
            }
            stop.cancel();
        }
    };
    let serve_tcp = serve_some(tcp, settings.transform, &settings, &stop);
    let serve_udp = serve_some(udp, settings.transform, &settings, &stop);
    let ((), mut totals, udp_totals) = tokio::join!(watch, serve_tcp, serve_udp);
    totals.add(&udp_totals);
    info!("stopped: {totals}");
    Ok(())
}

/// Runs `listener`, if there is one, until `stop`.
async fn serve_some<L: Listener, X: Transform>(
    listener: Option<L>,
    transform: X,
    settings: &Settings,
    stop: &CancellationToken,
) -> Totals {
    match listener {
        Some(listener) => {
            run(
                listener,
                transform,
                settings.options.clone(),
                stop.cancelled(),
            )
            .await
        }
        None => Totals::default(),
    }
}

/// The effective configuration, in one line for the log.
fn describe(settings: &Settings) -> String {
    let options = &settings.options;
    let networks = |list: &[ipnet::IpNet]| {
        let names: Vec<String> = list.iter().map(ToString::to_string).collect();
        if names.is_empty() {
            "-".to_owned()
        } else {
            names.join(",")
        }
    };
    format!(
        "transform {}; max-connections {}, per source {}; max-datagrams-per-source {}/s; \
         idle-timeout {:?}; max-line {}; drain-timeout {:?}; allow {}; deny {}",
        settings.transform,
        options.max_connections,
        options.max_connections_per_source,
        options.max_datagrams_per_source,
        options.idle_timeout,
        options.max_line,
        options.drain_timeout,
        networks(&options.access.allow),
        networks(&options.access.deny),
    )
}

/// Each connection is a file descriptor, and the usual soft limit (often 1024) is far below
/// `--max-connections`: raise it to the hard limit, as servers commonly do.
fn raise_open_file_limit(settings: &Settings) {
    // A few descriptors for the listening sockets, stdio and the runtime.
    let wanted = settings.options.max_connections as u64 + 64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => warn!(
            "only {limit} open files are allowed; fewer connections than --max-connections {} \
             can be served (raise `ulimit -n`)",
            settings.options.max_connections
        ),
        Ok(_) => {}
        Err(error) => warn!("cannot raise the open file limit: {error}"),
    }
}

type Bound = (
    Option<<Tcp as Transport>::Listener>,
    Option<<Udp as Transport>::Listener>,
);

/// Binds the transports the settings ask for, on one port.
async fn bind(settings: &Settings) -> Result<Bound, TransportError> {
    match settings.bind {
        Some(ip) => bind_on(ip, settings).await,
        // Every address: IPv6 dual-stack takes IPv4 clients too. Where the host has no IPv6,
        // IPv4 alone; but a port in use or a forbidden port is the same on both, so say so.
        None => match bind_on(IpAddr::V6(Ipv6Addr::UNSPECIFIED), settings).await {
            Err(TransportError::Bind { source, .. })
                if !matches!(
                    source.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                ) =>
            {
                bind_on(IpAddr::V4(Ipv4Addr::UNSPECIFIED), settings).await
            }
            bound => bound,
        },
    }
}

async fn bind_on(ip: IpAddr, settings: &Settings) -> Result<Bound, TransportError> {
    let at = SocketAddr::new(ip, settings.port);
    if !settings.tcp {
        return Ok((None, Some(Udp::bind(at).await?)));
    }
    if !settings.udp {
        return Ok((Some(Tcp::bind(at).await?), None));
    }
    // Both on one port. With port 0 the system picks TCP's port, which UDP may have in use
    // elsewhere; then pick again.
    let mut tries = 0;
    loop {
        let tcp = Tcp::bind(at).await?;
        let port = tcp.local_addr()?.port();
        match Udp::bind(SocketAddr::new(ip, port)).await {
            Ok(udp) => return Ok((Some(tcp), Some(udp))),
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

//! [`command`]: the `upcase server` command, from flags to a running server.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use std::sync::Arc;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use upcase_proto::Builtin;
use upcase_transport::{BoundSocket, Listener, Sharing, Tcp, Transport, TransportError, Udp};

use crate::policy::shown_networks;
use crate::{ServerArgs, ServerError, Service, Settings, serve, serve_metrics};

/// How many times to look for a port free for both UDP and TCP when port 0 is asked for.
const PORT_SEARCH: usize = 16;

/// Runs `upcase server`: resolves the settings, binds, prints one `listening on PROTO ADDR` line
/// per socket on stdout (`http` for `--metrics`), and serves until Ctrl-C or SIGTERM, then
/// drains and returns. SIGUSR1 prints the counters on stderr.
///
/// # Errors
/// [`ServerError`] when the settings are wrong or a socket cannot be bound.
pub async fn command(args: ServerArgs) -> Result<(), ServerError> {
    let settings = Settings::resolve(&args)?;
    // Installed before the ready lines, so that a signal sent as soon as they appear is
    // handled, not fatal.
    let mut interrupt = signal(SignalKind::interrupt()).map_err(ServerError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(ServerError::Signals)?;
    // Left alone, SIGHUP would end the process at once, cutting every connection.
    let mut hangup = signal(SignalKind::hangup()).map_err(ServerError::Signals)?;

    if args.inetd {
        let service = Service::new(settings.options.clone());
        let signalled = async {
            tokio::select! {
                _ = interrupt.recv() => info!("interrupted; shutting down"),
                _ = terminate.recv() => info!("terminated; shutting down"),
            }
        };
        return crate::inherit::inetd(&settings, &service, signalled).await;
    }
    // Sockets from systemd's socket activation are served as they are, by one worker.
    let (sockets, source) = match crate::inherit::from_systemd()? {
        Some(sockets) => (vec![sockets], "sockets from systemd"),
        None => (bind(&settings).map_err(ServerError::Bind)?, "bound"),
    };
    let mut ready_lines = Vec::new();
    if let Some((tcp, udp)) = sockets.first() {
        for (name, socket) in [(Udp::NAME, udp), (Tcp::NAME, tcp)] {
            if let Some(socket) = socket {
                let addr = socket
                    .local_addr()
                    .map_err(|e| ServerError::Bind(e.into()))?;
                ready_lines.push(format!("listening on {name} {addr}"));
            }
        }
    }
    let metrics = match settings.metrics {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| {
                    ServerError::Bind(TransportError::Bind {
                        transport: "http",
                        addr,
                        source,
                    })
                })?;
            let at = listener
                .local_addr()
                .map_err(|e| ServerError::Bind(e.into()))?;
            ready_lines.push(format!("listening on http {at}"));
            Some(listener)
        }
        None => None,
    };
    raise_open_file_limit(&settings);
    info!("serving {}", describe(&settings, &sockets, source));

    let service = Service::new(settings.options.clone());
    let stop = CancellationToken::new();
    let mut counters = signal(SignalKind::user_defined1()).map_err(ServerError::Signals)?;
    let mut workers = Vec::with_capacity(sockets.len());
    let mut readiness = Vec::with_capacity(sockets.len());
    for (index, (tcp, udp)) in sockets.into_iter().enumerate() {
        let (ready, is_ready) = oneshot::channel();
        let worker = Worker {
            tcp,
            udp,
            transform: settings.transform,
            service: Arc::clone(&service),
            stop: stop.clone(),
            ready,
        };
        match std::thread::Builder::new()
            .name(format!("upcase-worker-{index}"))
            .spawn(move || worker.run())
        {
            Ok(handle) => workers.push(handle),
            Err(error) => {
                stop.cancel();
                return Err(ServerError::Worker(error));
            }
        }
        readiness.push(is_ready);
    }
    // Ready once every worker serves its sockets: a worker that cannot ends its thread with
    // the reason, and stops the others.
    for is_ready in readiness {
        if is_ready.await.is_err() {
            stop.cancel();
            break;
        }
    }
    if let Some(listener) = metrics {
        tokio::spawn(serve_metrics(listener, Arc::clone(&service), stop.clone()));
    }
    if !stop.is_cancelled()
        && let Err(error) = print_ready(&ready_lines)
    {
        // Scripts wait for these lines to know the port: without them the server is of no
        // use to whoever started it.
        stop.cancel();
        join_workers(workers).await?;
        return Err(ServerError::Ready(error));
    }

    let mut settings = settings;
    loop {
        tokio::select! {
            _ = interrupt.recv() => info!("interrupted; shutting down"),
            _ = terminate.recv() => info!("terminated; shutting down"),
            // Asked for, so printed whatever the log level.
            _ = counters.recv() => {
                crate::log::say(&format!(
                    "counters: {}; {} connections open",
                    service.totals(),
                    service.open_connections()
                ));
                continue;
            }
            _ = hangup.recv() => {
                crate::reload::reload(&args, &mut settings, &service);
                continue;
            }
            // A worker that cannot serve stops the others, and its error is reported below.
            () = stop.cancelled() => {}
        }
        break;
    }
    stop.cancel();
    // A second Ctrl-C or SIGTERM during the drain ends it at once: an operator who asks twice
    // wants the process gone.
    let again = async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    let ended = tokio::select! {
        ended = join_workers(workers) => ended,
        () = again => {
            let open = service.open_connections();
            warn!("asked again to stop: dropping {open} open connections without their replies");
            info!("stopped: {}", service.totals());
            return Err(ServerError::Abandoned { open });
        }
    };
    info!("stopped: {}", service.totals());
    ended
}

/// The ready lines on stdout, flushed, so that a script reading them sees them at once.
fn print_ready(lines: &[String]) -> io::Result<()> {
    use std::io::Write;
    let mut stdout = io::stdout().lock();
    for line in lines {
        writeln!(stdout, "{line}")?;
    }
    stdout.flush()
}

/// Waits for the worker threads to end, with the first error any of them had.
async fn join_workers(
    workers: Vec<std::thread::JoinHandle<Result<(), ServerError>>>,
) -> Result<(), ServerError> {
    let ended = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(Err(ServerError::WorkerPanicked)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|_| ServerError::WorkerPanicked)?;
    ended.into_iter().collect()
}

/// One worker thread: a single-threaded runtime serving its own sockets, so that a datagram or
/// a connection is served on the thread whose socket took it, with no hand-over between threads.
struct Worker {
    tcp: Option<BoundSocket>,
    udp: Option<BoundSocket>,
    transform: Builtin,
    service: Arc<Service>,
    stop: CancellationToken,
    /// Told once the sockets are served.
    ready: oneshot::Sender<()>,
}

impl Worker {
    /// Serves until `stop`, then drains; on failure, stops the other workers too.
    fn run(self) -> Result<(), ServerError> {
        let stop = self.stop.clone();
        let outcome = self.serve();
        if outcome.is_err() {
            stop.cancel();
        }
        outcome
    }

    fn serve(self) -> Result<(), ServerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServerError::Worker)?;
        let Worker {
            tcp,
            udp,
            transform,
            service,
            stop,
            ready,
        } = self;
        // On Linux, UDP gets a thread of its own that sleeps in `recvmmsg`, with no event loop
        // between a datagram and its reply (see `BlockingUdp`); elsewhere the runtime serves it.
        #[cfg(target_os = "linux")]
        let (udp_thread, udp) = (
            udp.map(|socket| UdpThread::start(socket, transform, &service))
                .transpose()?,
            None::<BoundSocket>,
        );
        runtime.block_on(async {
            let tcp = tcp
                .map(Tcp::listen)
                .transpose()
                .map_err(ServerError::Bind)?;
            let udp = udp
                .map(Udp::listen)
                .transpose()
                .map_err(ServerError::Bind)?;
            // The main thread may have stopped waiting already, after a signal.
            let _ = ready.send(());
            tokio::join!(
                serve_some(tcp, transform, &service, &stop),
                serve_some(udp, transform, &service, &stop),
                async {
                    #[cfg(target_os = "linux")]
                    if let Some(thread) = &udp_thread {
                        stop.cancelled().await;
                        thread.stop();
                    }
                },
            );
            Ok::<_, ServerError>(())
        })?;
        #[cfg(target_os = "linux")]
        if let Some(thread) = udp_thread {
            thread.join()?;
        }
        Ok(())
    }
}

/// A thread serving one UDP socket with blocking calls. Dropped without
/// [`join`](Self::join), as when its worker fails, it is stopped and waited for all the same.
#[cfg(target_os = "linux")]
struct UdpThread {
    stopper: upcase_transport::UdpStopper,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl UdpThread {
    fn start(
        socket: BoundSocket,
        transform: Builtin,
        service: &Arc<Service>,
    ) -> Result<Self, ServerError> {
        let socket = upcase_transport::BlockingUdp::new(socket).map_err(ServerError::Bind)?;
        let stopper = socket.stopper();
        let service = Arc::clone(service);
        let name = match std::thread::current().name() {
            Some(worker) => worker.replace("worker", "udp"),
            None => "upcase-udp".to_owned(),
        };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || crate::serve_blocking_udp(socket, transform, &service))
            .map_err(ServerError::Worker)?;
        Ok(Self {
            stopper,
            thread: Some(thread),
        })
    }

    /// Tells the thread to stop once it has answered what it received.
    fn stop(&self) {
        self.stopper.stop();
    }

    /// Stops the thread and waits for it to end.
    fn join(mut self) -> Result<(), ServerError> {
        self.finish().map_err(|_panic| ServerError::WorkerPanicked)
    }

    /// Stops the thread and waits for it, unless that was done already; `Err` if it panicked.
    fn finish(&mut self) -> std::thread::Result<()> {
        self.stop();
        self.thread
            .take()
            .map_or(Ok(()), std::thread::JoinHandle::join)
    }
}

#[cfg(target_os = "linux")]
impl Drop for UdpThread {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Serves `listener`, if there is one, until `stop`.
async fn serve_some<L: Listener>(
    listener: Option<L>,
    transform: Builtin,
    service: &Arc<Service>,
    stop: &CancellationToken,
) {
    if let Some(listener) = listener {
        serve(listener, transform, service, stop.cancelled()).await;
    }
}

/// The effective configuration, in one line for the log.
fn describe(settings: &Settings, sockets: &[WorkerSockets], source: &str) -> String {
    let options = &settings.options;
    let transports = match sockets.first() {
        Some((Some(_), Some(_))) => "udp and tcp",
        Some((Some(_), None)) => "tcp",
        _ => "udp",
    };
    format!(
        "{transports} ({source}); transform {}; workers {}; proxy-protocol {}; metrics {}; \
         max-connections {}, per source {}; max-datagrams-per-source {}/s; idle-timeout {:?}; \
         max-line {}; drain-timeout {:?}; buffer-budget {} KiB; allow {}; deny {}",
        settings.transform,
        sockets.len(),
        if options.proxy_protocol { "on" } else { "off" },
        settings
            .metrics
            .map_or_else(|| "-".to_owned(), |addr| format!("http://{addr}/metrics")),
        options.max_connections,
        options.max_connections_per_source,
        options.max_datagrams_per_source,
        Off(options.idle_timeout),
        options.max_line,
        options.drain_timeout,
        options.buffer_budget / 1024,
        shown_networks(&options.access.allow),
        shown_networks(&options.access.deny),
    )
}

/// A duration in the log, where zero means no limit: `off`.
struct Off(std::time::Duration);

impl std::fmt::Debug for Off {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_zero() {
            f.write_str("off")
        } else {
            self.0.fmt(f)
        }
    }
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

/// One worker's sockets: TCP, UDP, or both.
type WorkerSockets = (Option<BoundSocket>, Option<BoundSocket>);

/// Binds the transports the settings ask for, on one port, for each worker.
fn bind(settings: &Settings) -> Result<Vec<WorkerSockets>, TransportError> {
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

fn bind_on(ip: IpAddr, settings: &Settings) -> Result<Vec<WorkerSockets>, TransportError> {
    // The port is first claimed exclusively, so that a port held by anything, another upcase
    // server included, is an error rather than silently shared.
    let claimed = claim(ip, settings)?;
    if settings.workers == 1 {
        return Ok(vec![claimed]);
    }
    let port = match &claimed {
        (Some(socket), _) | (None, Some(socket)) => socket.local_addr()?.port(),
        (None, None) => settings.port,
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
            Ok((tcp, udp))
        })
        .collect()
}

/// Binds each transport the settings ask for exclusively, on one port.
fn claim(ip: IpAddr, settings: &Settings) -> Result<WorkerSockets, TransportError> {
    let at = SocketAddr::new(ip, settings.port);
    if !settings.tcp {
        return Ok((None, Some(Udp::bind_socket(at, Sharing::Exclusive)?)));
    }
    if !settings.udp {
        return Ok((Some(Tcp::bind_socket(at, Sharing::Exclusive)?), None));
    }
    // Both on one port. With port 0 the system picks TCP's port, which UDP may have in use
    // elsewhere; then pick again.
    let mut tries = 0;
    loop {
        let tcp = Tcp::bind_socket(at, Sharing::Exclusive)?;
        let port = tcp.local_addr()?.port();
        match Udp::bind_socket(SocketAddr::new(ip, port), Sharing::Exclusive) {
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

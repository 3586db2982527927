//! [`command`]: the `upcase server` command, from flags to a running server, in a few named
//! steps: signals, sockets (bound or inherited), the ready lines, the workers, the signals'
//! loop, the drain.

use std::io;
use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use upcase_transport::{TlsKeys, TransportError};

use crate::access::shown_networks;
use crate::args::ServerArgs;
use crate::config::Settings;
use crate::endpoint::serve_metrics;
use crate::error::ServerError;
use crate::served::Served;
use crate::service::Service;
use crate::sockets::{Sockets, bind};
use crate::worker::{Worker, join_workers};

/// The signals the server answers.
struct Signals {
    stop: StopSignals,
    /// Left alone, SIGHUP would end the process at once, cutting every connection.
    hangup: Signal,
    counters: Signal,
}

/// The signals that stop the server.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    fn install() -> Result<Self, ServerError> {
        let on = |kind| signal(kind).map_err(ServerError::Signals);
        Ok(Self {
            stop: StopSignals {
                interrupt: on(SignalKind::interrupt())?,
                terminate: on(SignalKind::terminate())?,
            },
            hangup: on(SignalKind::hangup())?,
            counters: on(SignalKind::user_defined1())?,
        })
    }
}

impl StopSignals {
    /// Completes at Ctrl-C or SIGTERM.
    async fn stopped(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => info!("interrupted; shutting down"),
            _ = self.terminate.recv() => info!("terminated; shutting down"),
        }
    }
}

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
    let mut signals = Signals::install()?;
    if args.inetd {
        let service = Service::new(settings.options.clone());
        let stopped = signals.stop.stopped();
        return crate::inherit::inetd(&settings, &service, stopped).await;
    }
    let keys = load_keys(&settings)?;
    // Sockets from systemd's socket activation are served as they are, by one worker.
    let (sockets, source) = match crate::inherit::from_systemd()? {
        Some(sockets) => (vec![sockets], "sockets from systemd"),
        None => {
            let transports = Served::chosen(&settings, keys.as_ref());
            let sockets = bind(&settings, &transports).map_err(ServerError::Bind)?;
            (sockets, "bound")
        }
    };
    let mut ready_lines = match sockets.first() {
        Some(first) => first
            .ready_lines()
            .map_err(|e| ServerError::Bind(e.into()))?,
        None => Vec::new(),
    };
    let metrics = bind_metrics(&settings, &mut ready_lines).await?;
    raise_open_file_limit(&settings);
    info!("serving {}", summary(&settings, &sockets, source));

    let service = Service::new(settings.options.clone());
    let stop = CancellationToken::new();
    let workers = start_workers(sockets, &settings, &service, &stop).await?;
    // The endpoint outlives the workers' stop: through the drain, /readyz says 503.
    let metrics_stop = CancellationToken::new();
    let _metrics_stop = metrics_stop.clone().drop_guard();
    if let Some(listener) = metrics {
        tokio::spawn(serve_metrics(listener, Arc::clone(&service), metrics_stop));
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
    serve_signals(
        &mut signals,
        &args,
        settings,
        keys.as_ref(),
        &service,
        &stop,
    )
    .await;
    service.start_drain();
    stop.cancel();
    drain(&mut signals, workers, &service).await
}

/// TLS's certificate and key, when TLS is served: read before any socket is bound, so that
/// a file that cannot be used stops the server at once, naming it.
fn load_keys(settings: &Settings) -> Result<Option<TlsKeys>, ServerError> {
    settings
        .key_files()
        .map(|files| TlsKeys::load(files).map_err(ServerError::Tls))
        .transpose()
}

/// Binds `--metrics`, if asked for, adding its ready line.
async fn bind_metrics(
    settings: &Settings,
    ready_lines: &mut Vec<String>,
) -> Result<Option<tokio::net::TcpListener>, ServerError> {
    let Some(addr) = settings.metrics else {
        return Ok(None);
    };
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
    Ok(Some(listener))
}

/// Starts a worker thread per set of sockets, and waits until each serves them: a worker that
/// cannot ends its thread with the reason, and stops the others.
async fn start_workers(
    sockets: Vec<Sockets>,
    settings: &Settings,
    service: &Arc<Service>,
    stop: &CancellationToken,
) -> Result<Vec<std::thread::JoinHandle<Result<(), ServerError>>>, ServerError> {
    let mut workers = Vec::with_capacity(sockets.len());
    let mut readiness = Vec::with_capacity(sockets.len());
    for (index, sockets) in sockets.into_iter().enumerate() {
        let (ready, is_ready) = oneshot::channel();
        let worker = Worker::new(sockets, settings.transform, service, stop, ready);
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
    for is_ready in readiness {
        if is_ready.await.is_err() {
            stop.cancel();
            break;
        }
    }
    Ok(workers)
}

/// The least time between two reloads: SIGHUPs that come faster are taken together, so that a
/// flood of them reads the file and logs its line at most once a second, and none is lost.
const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Answers SIGUSR1 and SIGHUP until Ctrl-C, SIGTERM, or a worker that cannot serve.
async fn serve_signals(
    signals: &mut Signals,
    args: &ServerArgs,
    mut settings: Settings,
    keys: Option<&TlsKeys>,
    service: &Service,
    stop: &CancellationToken,
) {
    let mut next_reload = tokio::time::Instant::now();
    let mut reload_waiting = false;
    loop {
        tokio::select! {
            () = signals.stop.stopped() => return,
            // Asked for, so printed whatever the log level.
            _ = signals.counters.recv() => crate::log::say(&format!(
                "counters: {}; {} connections open",
                service.totals(),
                service.open_connections()
            )),
            _ = signals.hangup.recv() => reload_waiting = true,
            () = tokio::time::sleep_until(next_reload), if reload_waiting => {
                reload_waiting = false;
                // The file is read so that it cannot block (see `operator_file.rs`): the loop is
                // back for the next signal at once.
                crate::reload::reload(args, &mut settings, keys, service);
                next_reload = tokio::time::Instant::now() + RELOAD_EVERY;
            }
            // A worker that cannot serve stops the others, and its error is reported by the
            // drain.
            () = stop.cancelled() => return,
        }
    }
}

/// Waits for the workers to drain. A second Ctrl-C or SIGTERM during the drain ends it at
/// once: an operator who asks twice wants the process gone.
async fn drain(
    signals: &mut Signals,
    workers: Vec<std::thread::JoinHandle<Result<(), ServerError>>>,
    service: &Service,
) -> Result<(), ServerError> {
    let ended = tokio::select! {
        ended = join_workers(workers) => ended,
        () = signals.stop.stopped() => {
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

/// The effective configuration, in one line for the log.
fn summary(settings: &Settings, sockets: &[Sockets], source: &str) -> String {
    let options = &settings.options;
    let transports = sockets
        .first()
        .map_or_else(String::new, Sockets::transports);
    format!(
        "{transports} ({source}); transform {}; workers {}; proxy-protocol {}; metrics {}; \
         max-connections {}, per source {}; max-datagrams-per-source {}/s; idle-timeout {:?}; \
         max-line {}; drain-timeout {:?}; buffer-budget {} KiB; allow {}; deny {}",
        settings.transform,
        sockets.len(),
        match (options.proxy_protocol, options.proxy_from.is_empty()) {
            (false, _) => "off".to_owned(),
            (true, true) => "on, from loopback".to_owned(),
            (true, false) => format!("on, from {}", shown_networks(&options.proxy_from)),
        },
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

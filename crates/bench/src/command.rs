//! [`command`]: `upcase bench`, from flags to a printed report.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use upcase_proto::max_datagram;
use upcase_transport::{Client, ClientOptions, Tcp, Transport, Udp, resolve};

use crate::report::{Latency, Tally};
use crate::{BenchArgs, BenchError, Report, tcp, udp};

/// How long a run sends for when neither --duration nor --requests says.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// What every worker of one run shares.
pub(crate) struct Run {
    /// When to stop sending new requests, if a time bounds the run.
    pub(crate) deadline: Option<Instant>,
    /// Requests still to send, if a count bounds the run.
    left: Option<AtomicU64>,
    /// How long a reply may take before it is counted lost.
    pub(crate) timeout: Duration,
    /// Bytes per request.
    pub(crate) size: usize,
    /// Requests in flight per connection or socket.
    pub(crate) window: usize,
    /// Good and bad replies so far, for the progress line.
    replies: AtomicU64,
}

impl Run {
    /// Takes one request to send: `false` once the run's time or count is used up.
    pub(crate) fn take_request(&self) -> bool {
        if self.past_deadline() {
            return false;
        }
        self.left.as_ref().is_none_or(|left| {
            left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
        })
    }

    /// Whether no more requests will be taken.
    pub(crate) fn sending_ended(&self) -> bool {
        self.past_deadline()
            || self
                .left
                .as_ref()
                .is_some_and(|left| left.load(Ordering::Relaxed) == 0)
    }

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    pub(crate) fn count_reply(&self) {
        self.replies.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `upcase bench`: loads the server for `--duration` or `--requests`, then prints the
/// report on stdout (a progress line goes to stderr each second meanwhile).
///
/// # Errors
/// [`BenchError`] when the server cannot be reached, the flags ask for requests that cannot be
/// sent, a connection fails during the run, or some replies were wrong (after the report).
pub async fn command(args: BenchArgs) -> Result<(), BenchError> {
    let addrs = resolve(&args.host, args.port).await?;
    let options = ClientOptions {
        timeout: args.timeout.into(),
        retries: 0,
        ..ClientOptions::default()
    };
    // Which address answers, found the way the client finds it.
    let (transport, addr) = if args.udp {
        (Udp::NAME, Udp::connect(addrs, options).await?.peer())
    } else {
        (Tcp::NAME, Tcp::connect(addrs, options).await?.peer())
    };
    let size = args.size as usize;
    if args.udp && size > max_datagram(addr) {
        return Err(BenchError::Usage(format!(
            "requests of {size} bytes do not fit in a UDP datagram ({} at most); use --tcp or a smaller --size",
            max_datagram(addr)
        )));
    }

    let started = Instant::now();
    let duration = match (args.duration, args.requests) {
        (Some(duration), _) => Some(duration.into()),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_DURATION),
    };
    let run = Arc::new(Run {
        deadline: duration.map(|duration| started + duration),
        left: args
            .requests
            .map(|requests| AtomicU64::new(requests.into())),
        timeout: args.timeout.into(),
        size,
        window: args.window as usize,
        replies: AtomicU64::new(0),
    });
    let mut workers = JoinSet::new();
    for _ in 0..args.conns {
        let run = Arc::clone(&run);
        if args.udp {
            workers.spawn(udp::socket(addr, run));
        } else if args.reconnect {
            for _ in 0..args.window {
                workers.spawn(tcp::reconnecting(addr, Arc::clone(&run)));
            }
        } else {
            workers.spawn(tcp::connection(addr, run));
        }
    }
    let progress = tokio::spawn(progress(Arc::clone(&run), started));

    let mut tally = Tally::new();
    let mut failure = None;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(Ok(worker)) => tally.add(&worker),
            Ok(Err(error)) => failure = Some(BenchError::Io(error)),
            Err(panicked) => {
                failure = Some(BenchError::Failed(format!("a worker failed: {panicked}")))
            }
        }
    }
    progress.abort();
    if let Some(error) = failure {
        return Err(error);
    }

    let shape = Report {
        transport,
        server: addr.to_string(),
        conns: args.conns,
        window: args.window,
        size: args.size,
        reconnect: args.reconnect,
        seconds: 0.0,
        replies: 0,
        replies_per_second: 0.0,
        lost: 0,
        wrong: 0,
        latency: Latency {
            p50_us: 0.0,
            p90_us: 0.0,
            p99_us: 0.0,
            max_us: 0.0,
        },
    };
    let report = Report::new(shape, &tally, started.elapsed());
    let text = if args.json {
        serde_json::to_string(&report).map_err(|e| BenchError::Failed(e.to_string()))?
    } else {
        report.to_string()
    };
    print_report(&text)?;
    match (report.wrong, report.replies) {
        (0, 0) => Err(BenchError::Failed(
            "no reply came; is the server running there?".into(),
        )),
        (0, _) => Ok(()),
        (wrong, _) => Err(BenchError::Failed(format!(
            "{wrong} replies did not answer their request as an echo or upper-case server would"
        ))),
    }
}

/// The report on stdout. A reader that went away (`| head -0`) is not a failure: the run is
/// over and its verdict below still sets the exit code.
fn print_report(text: &str) -> Result<(), BenchError> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{text}").and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(BenchError::Output(error))
        }
        _ => Ok(()),
    }
}

/// Once a second, the replies of the last second on stderr: over itself on a terminal, a line
/// each otherwise.
async fn progress(run: Arc<Run>, started: Instant) {
    use std::io::Write;
    let terminal = std::io::stderr().is_terminal();
    let mut ticks =
        tokio::time::interval_at(started + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = 0;
    loop {
        ticks.tick().await;
        let now = run.replies.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs();
        // Progress is for a person watching: a stderr that cannot take it loses nothing.
        let _ = if terminal {
            write!(
                std::io::stderr(),
                "\r{secs:>4}s  {:>10} replies/s ",
                now - last
            )
        } else {
            writeln!(
                std::io::stderr(),
                "upcase bench: {secs}s, {} replies/s",
                now - last
            )
        };
        last = now;
    }
}

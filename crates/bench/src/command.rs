//! [`command`]: `upcase bench`, from flags to a printed report and the files asked for.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use upcase_proto::max_datagram;
use upcase_transport::{
    Client, ClientOptions, Quic, Tcp, Tls, TlsWrap, Transport, TransportError, Udp, resolve,
};

use crate::args::BenchArgs;
use crate::args::BenchCommand;
use crate::error::BenchError;
use crate::hlog::Hlog;
use crate::hlog_meta::{EndLine, RunLine};
use crate::merge::merge;
use crate::payload::{ReplyCheck, SEQ_DIGITS};
use crate::plan::{Plan, Scenario};
use crate::publish::{Measured, Outputs, publish};
use crate::quic::QuicDial;
use crate::report::Report;
use crate::report::{Handshakes, Latency, Rate, per_second};
use crate::run::{Outcome, run};
use crate::share::Share;
use crate::sink::Sink;

/// How long a run sends for when neither --duration nor --requests says.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// The progress line's interval, when --interval does not set one.
const PROGRESS: Duration = Duration::from_secs(1);

/// Runs `upcase bench`: loads the server for `--duration` or `--requests`, then prints the
/// report on stdout (a progress line goes to stderr each second meanwhile, or with
/// `--interval`, a line per interval to stdout). Each thread of the load runs a runtime of its
/// own, so this is called outside any runtime.
///
/// # Errors
/// [`BenchError`] when the server cannot be reached, the flags ask for requests that cannot be
/// sent, a connection fails during the run, a file cannot be written, or some replies were
/// wrong (after the report).
pub fn command(args: BenchArgs) -> Result<(), BenchError> {
    if let Some(BenchCommand::Merge(merge_args)) = &args.command {
        return merge(merge_args);
    }
    check_room(&args)?;
    let Secure { tls, quic } = secure(&args)?;
    let Reached { transport, addr } = find_server(&args, tls.as_ref(), quic.as_ref())?;
    let dial = quic
        .as_ref()
        .and_then(Quic::client_parts)
        .map(|parts| QuicDial {
            config: parts.config.clone(),
            name: parts.name.to_owned(),
            endpoint: std::cell::OnceCell::new(),
        });
    let tls = tls.as_ref().and_then(Tls::client_wrap).cloned();
    let plan = plan(&args, addr, tls, dial)?;
    let run_line = run_line(&args, transport, addr, &plan);
    let mut sink = Sink {
        lines: args.interval.is_some(),
        json: args.json,
        terminal: std::io::stderr().is_terminal(),
        length: plan.interval,
        hlog: args
            .hlog
            .as_deref()
            .map(|path| Hlog::create(path, run_line.clone()))
            .transpose()?,
        error: None,
    };
    let outcome = run(&plan, |interval, began| sink.take(interval, began))?;
    sink.finish(&end_line(&outcome))?;
    let report = report(&args, &run_line, &plan, &outcome);
    let measured = Measured {
        latency: &outcome.tally.latency,
        uncorrected: outcome.tally.uncorrected.as_ref(),
        replies_by_interval: &outcome.replies_by_interval,
        interval_s: plan.interval.as_secs_f64(),
    };
    let outputs = Outputs {
        histogram: args.histogram.as_ref(),
        plot: args.plot.as_ref(),
        json: args.json,
        slo: &args.slo,
        transform: args.transform,
    };
    publish(report, &measured, &outputs)?;
    match outcome.tally.warmup_wrong {
        0 => Ok(()),
        wrong => Err(BenchError::Failed(format!(
            "{wrong} replies during the warm-up did not answer their request"
        ))),
    }
}

/// What the log says of the run, before its first interval.
fn run_line(args: &BenchArgs, transport: &str, addr: SocketAddr, plan: &Plan) -> RunLine {
    RunLine {
        transport: transport.to_owned(),
        server: addr.to_string(),
        conns: args.conns,
        window: args.window,
        size: args.size,
        reconnect: args.reconnect,
        threads: plan.threads.clamp(1, plan.workers.max(1)),
        workers: plan.workers,
        interval_s: plan.interval.as_secs_f64(),
        rate: args.rate,
        share: args.share,
    }
}

/// What the log says of the run after its last interval.
fn end_line(outcome: &Outcome) -> EndLine {
    let tally = &outcome.tally;
    EndLine {
        seconds: outcome.seconds,
        unsent: tally.unsent,
        behind_ms: tally.behind.as_secs_f64() * 1e3,
        handshakes: tally.handshakes,
        resumed: tally.resumed,
    }
}

/// Refuses what a transform that answers lines cannot be checked with: requests too short to
/// be a number and a line's end, or datagrams in flight whose replies carry no number.
fn check_lines(args: &BenchArgs) -> Result<(), BenchError> {
    let Some(transform) = args.transform else {
        return Ok(());
    };
    if !ReplyCheck::Told(transform).lines() {
        return Ok(());
    }
    if args.size as usize <= SEQ_DIGITS {
        return Err(BenchError::Usage(format!(
            "--transform {transform} answers lines: --size must be at least {}, a request's \
             number and its LF",
            SEQ_DIGITS + 1
        )));
    }
    if args.udp && args.window > 1 {
        return Err(BenchError::Usage(format!(
            "--transform {transform}: its replies carry no request's number, so over UDP each \
             socket can have one request in flight; use --window 1 and more --conns"
        )));
    }
    Ok(())
}

/// Refuses a load this machine cannot hold, before any is sent: more requests in flight than
/// [`MAX_IN_FLIGHT`](crate::args::MAX_IN_FLIGHT), or more sockets than the open-file limit
/// allows (raised to its hard limit first, as servers do). Without it, a million connections
/// ran out of descriptors a few thousand in and ended saying none had been made.
fn check_room(args: &BenchArgs) -> Result<(), BenchError> {
    if let Some(slo) = args.slo.iter().find(|slo| slo.needs_rate())
        && args.rate.is_none()
    {
        return Err(BenchError::Usage(format!(
            "--slo {slo}: the share of the asked rate needs --rate N"
        )));
    }
    check_lines(args)?;
    let in_flight = u64::from(args.conns) * u64::from(args.window);
    if in_flight > crate::args::MAX_IN_FLIGHT {
        return Err(BenchError::Usage(format!(
            "--conns {} × --window {} is {in_flight} requests in flight; at most {}",
            args.conns,
            args.window,
            crate::args::MAX_IN_FLIGHT
        )));
    }
    // A connection per request keeps `window` of them open at once for each of `conns`.
    let sockets = if args.reconnect {
        in_flight
    } else {
        u64::from(args.conns)
    };
    // A few descriptors for standard streams, the runtime and the timers.
    let needed = sockets + 64;
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
    if needed > limit {
        return Err(BenchError::Usage(format!(
            "{sockets} sockets need {needed} open files, and this process may open at most \
             {limit}; raise the limit (ulimit -n) or use fewer --conns"
        )));
    }
    Ok(())
}

/// The TLS and QUIC transports the flags ask for, if either.
struct Secure {
    tls: Option<Tls>,
    quic: Option<Quic>,
}

/// The server found: the transport it was reached over, by name, and the address that answered.
struct Reached {
    transport: &'static str,
    addr: SocketAddr,
}

/// The TLS or QUIC transport the flags ask for, if either.
fn secure(args: &BenchArgs) -> Result<Secure, BenchError> {
    let tls = args
        .tls
        .then(|| args.tls_args.transport(&args.host, args.resume))
        .transpose()
        .map_err(BenchError::Tls)?;
    let quic = args
        .quic
        .then(|| args.tls_args.quic(&args.host))
        .transpose()
        .map_err(BenchError::Tls)?;
    Ok(Secure { tls, quic })
}

/// Which address answers, found the way the client finds it (over TLS, with a handshake that
/// checks the server's certificate), and whether requests fit.
fn find_server(
    args: &BenchArgs,
    tls: Option<&Tls>,
    quic: Option<&Quic>,
) -> Result<Reached, BenchError> {
    let options = ClientOptions {
        timeout: args.timeout.into(),
        retries: 0,
        ..ClientOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Io)?;
    let (transport, addr) = runtime.block_on(async {
        let addrs = resolve(&args.host, args.port()).await?;
        Ok::<_, BenchError>(match tls {
            _ if args.udp => (Udp::NAME, Udp.connect(addrs, options).await?.peer()),
            _ if quic.is_some() => {
                let quic = quic.ok_or(BenchError::Usage("no QUIC".into()))?;
                (
                    Quic::NAME,
                    reaching(quic.connect(addrs, options).await)?.peer(),
                )
            }
            Some(tls) => (
                Tls::NAME,
                reaching(tls.connect(addrs, options).await)?.peer(),
            ),
            None => (Tcp::NAME, Tcp.connect(addrs, options).await?.peer()),
        })
    })?;
    let size = args.size as usize;
    if args.udp && size > max_datagram(addr) {
        return Err(BenchError::Usage(format!(
            "requests of {size} bytes do not fit in a UDP datagram ({} at most); use --tcp or a smaller --size",
            max_datagram(addr)
        )));
    }
    Ok(Reached { transport, addr })
}

/// A TLS server that cannot be reached is a network failure; one that is reached but cannot
/// be trusted, or speaks no TLS, is said as the handshake says it.
fn reaching<T>(connected: Result<T, TransportError>) -> Result<T, BenchError> {
    connected.map_err(|error| match error {
        TransportError::Connect(_) | TransportError::NoReply { .. } => BenchError::Network(error),
        error => BenchError::Tls(error),
    })
}

fn plan(
    args: &BenchArgs,
    addr: SocketAddr,
    tls: Option<TlsWrap>,
    quic: Option<QuicDial>,
) -> Result<Plan, BenchError> {
    let start_at = args
        .start_at
        .map(|at| at.resolve(std::time::SystemTime::now()))
        .transpose()
        .map_err(BenchError::Usage)?;
    let scenario = match (args.udp, args.reconnect) {
        (true, _) => Scenario::Udp,
        (false, true) => Scenario::Reconnect,
        (false, false) => Scenario::Tcp,
    };
    let conns = args.conns as usize;
    let window = args.window as usize;
    let duration = match (args.duration, args.requests) {
        (Some(duration), _) => Some(duration.into()),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_DURATION),
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(Plan {
        scenario,
        addr,
        tls,
        quic,
        // A connection per request keeps `window` of them going at once for each of `conns`.
        workers: if scenario == Scenario::Reconnect {
            conns * window
        } else {
            conns
        },
        threads: args.threads.map_or(cores, |threads| threads as usize),
        size: args.size as usize,
        check: args.transform.map_or(ReplyCheck::Learn, ReplyCheck::Told),
        window: if scenario == Scenario::Reconnect {
            1
        } else {
            window
        },
        timeout: args.timeout.into(),
        duration,
        requests: args.requests.map(u64::from),
        rate: args.rate,
        share: args.share.unwrap_or(Share::WHOLE),
        start_at,
        warmup: args.warmup.map_or(Duration::ZERO, Into::into),
        interval: args.interval.map_or(PROGRESS, Into::into),
        interval_latency: args.interval.is_some() || args.hlog.is_some(),
    })
}

/// The report of the run `run` describes (the same line its log begins with).
fn report(args: &BenchArgs, run: &RunLine, plan: &Plan, outcome: &Outcome) -> Report {
    let tally = &outcome.tally;
    let per_second = |count: u64| per_second(count, outcome.seconds);
    Report {
        transport: run.transport.clone(),
        server: run.server.clone(),
        conns: run.conns,
        window: run.window,
        size: run.size,
        reconnect: run.reconnect,
        threads: run.threads,
        seconds: outcome.seconds,
        replies: tally.replies,
        replies_per_second: per_second(tally.replies),
        lost: tally.lost,
        wrong: tally.wrong,
        latency: Latency::of(&tally.latency),
        uncorrected_latency: tally.uncorrected.as_ref().map(Latency::of),
        rate: plan.rate.map(|total| Rate {
            asked: total / f64::from(plan.share.of),
            share: args.share.map(|share| format!("{share} of {total}/s")),
            achieved: per_second(tally.sent),
            unsent: tally.unsent,
            behind_ms: tally.behind.as_secs_f64() * 1e3,
            reached: tally.unsent <= plan.workers as u64,
        }),
        handshakes: ((plan.tls.is_some() || plan.quic.is_some())
            && plan.scenario == Scenario::Reconnect)
            .then(|| Handshakes {
                resume: args.resume,
                full: tally.handshakes - tally.resumed,
                resumed: tally.resumed,
                per_second: per_second(tally.handshakes),
            }),
        slo: Vec::new(),
        merged: None,
    }
}

//! [`BenchArgs`]: the flags of `upcase bench`.

use clap::Args;

/// Flags of `upcase bench`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("secure").args(["tls", "quic"])))]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    /// `upcase bench merge`, instead of a run.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,

    /// Load over UDP: each socket keeps --window datagrams in flight
    #[arg(long, conflicts_with_all = ["tcp", "tls", "quic"])]
    pub udp: bool,

    /// Load over TCP (the default): each connection keeps --window requests in flight
    #[arg(long, conflicts_with_all = ["tls", "quic"])]
    pub tcp: bool,

    /// Load over TLS: as TCP, each connection after a handshake; with --reconnect, a full
    /// handshake for every request
    #[arg(long)]
    pub tls: bool,

    /// Load over QUIC: each connection keeps --window streams in flight, a request each;
    /// with --reconnect, a connection and its handshake for every request
    #[arg(long, conflicts_with = "tls")]
    pub quic: bool,

    /// With --tls --reconnect: resume the session (TLS tickets) on each new connection, so
    /// that the run measures resumed handshakes instead of full ones
    #[arg(long, requires_all = ["tls", "reconnect"])]
    pub resume: bool,

    /// The TLS flags, as the client's.
    #[command(flatten)]
    pub tls_args: upcase_client::TlsArgs,

    /// Server name or address
    #[arg(long, value_name = "HOST", default_value = "localhost",
          value_parser = upcase_transport::parse_host)]
    pub host: String,

    /// Server port [default: 12000, 12443 with --tls or --quic]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Connections (TCP) or sockets (UDP), each on a task of its own; at most 1000000, and as
    /// many as the open-file limit allows
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CONNS)))]
    pub conns: u32,

    /// Requests in flight on each connection or socket; at most 4096
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_WINDOW)))]
    pub window: u32,

    /// Bytes in each request (at least 10: a request starts with its number)
    #[arg(long, value_name = "BYTES", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(10..=(64 * 1024 * 1024)))]
    pub size: u32,

    /// The server's transform: upper, lower, echo or count=C; each reply is held to what it
    /// makes of its request, and with count=C each request is a line [default: echo or upper,
    /// learnt from the first reply]
    #[arg(long, value_name = "NAME")]
    pub transform: Option<upcase_proto::Builtin>,

    /// How long to send for, like 10s [default: 10s, or no limit with --requests]
    #[arg(long, value_name = "DURATION", value_parser = positive_duration)]
    pub duration: Option<humantime::Duration>,

    /// Send this many requests in all, then stop once their replies are in or lost (with
    /// --size 1048576, 1024 requests stream 1 GiB)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub requests: Option<u32>,

    /// TCP, TLS or QUIC: a new connection for every request, closed after its reply (the textbook's pattern)
    #[arg(long, conflicts_with = "udp")]
    pub reconnect: bool,

    /// How long to wait for a reply before counting it lost; at most a day
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = timeout_duration)]
    pub timeout: humantime::Duration,

    /// Threads, each with a runtime of its own and its share of the connections or sockets
    /// [default: one per core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: Option<u32>,

    /// Open loop: send N requests a second in all, on a fixed schedule spread over the
    /// connections, and count each latency from its scheduled time (coordinated omission
    /// corrected); without it, each reply frees its slot for the next request at once
    #[arg(long, value_name = "N", value_parser = positive_rate)]
    pub rate: Option<f64>,

    /// With --rate: send the I-th of N shares of the rate, so that N generators, anywhere, send
    /// the rate together on one interleaved schedule (start them with one --start-at)
    #[arg(long, value_name = "I/N", requires = "rate")]
    pub share: Option<crate::share::Share>,

    /// Start the load at an RFC 3339 time (like 2026-12-07T10:00:00Z), or with +D at the next
    /// whole second at least D from now; connections are set up before
    #[arg(long, value_name = "TIME|+D")]
    pub start_at: Option<crate::start_at::StartAt>,

    /// Load for this long first, sending and checking every reply, but keep it out of every
    /// figure (the report, intervals, logs, objectives); --duration is counted after it
    #[arg(long, value_name = "DURATION", value_parser = warmup_duration, conflicts_with = "requests")]
    pub warmup: Option<humantime::Duration>,

    /// Print a line for each interval of this length (replies/s, lost, wrong, p50 and p99);
    /// with --json, a JSON object a line, then the report; at least 100ms, as iperf3's -i
    #[arg(long, value_name = "DURATION", value_parser = interval_duration)]
    pub interval: Option<humantime::Duration>,

    /// Write the latency distribution to FILE in HdrHistogram's percentile text (.hgrm),
    /// values in microseconds
    #[arg(long, value_name = "FILE")]
    pub histogram: Option<std::path::PathBuf>,

    /// Write HdrHistogram's interval log to FILE (a histogram each interval, one a second unless
    /// --interval says), for `upcase bench merge` and HdrHistogram's own tools
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<std::path::PathBuf>,

    /// Write an SVG to FILE: latency by percentile, and replies per second over time
    #[arg(long, value_name = "FILE")]
    pub plot: Option<std::path::PathBuf>,

    /// An objective the run must meet, checked at its end, like p99<=2ms, p50<500us, lost==0,
    /// wrong==0 or rate>=0.99 (with --rate); repeatable; a broken one exits 3
    #[arg(long, value_name = "EXPR")]
    pub slo: Vec<crate::slo::Slo>,

    /// Print the report as one JSON object
    #[arg(long)]
    pub json: bool,
}

/// What `upcase bench` does besides a run.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BenchCommand {
    /// Add up the interval logs (--hlog) of runs on one machine or many, and report them as one
    /// run: histograms added interval by interval on the wall clock, never percentiles averaged
    Merge(crate::merge::MergeArgs),
}

impl BenchArgs {
    /// The server's port: `--port`, else the textbook's, else TLS's.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls || self.quic {
            upcase_transport::TLS_PORT
        } else {
            12_000
        })
    }
}

/// The most connections or sockets: past a million, no machine's descriptors or ports hold them.
pub const MAX_CONNS: u32 = 1_000_000;

/// The most requests in flight on one connection or socket: more than any socket buffer holds
/// of the smallest requests, and each is a slot of memory.
pub const MAX_WINDOW: u32 = 4_096;

/// The most requests in flight in all (`--conns` × `--window`): each holds a slot of memory.
pub const MAX_IN_FLIGHT: u64 = 1 << 20;

/// The shortest `--interval`: shorter, the lines themselves become the load (iperf3 refuses
/// `-i` below 0.1 s for the same reason).
const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// The longest `--timeout` or `--duration`: past that, a deadline is no deadline.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// A warm-up of at most a day (zero is none).
fn warmup_duration(text: &str) -> Result<humantime::Duration, String> {
    let duration: humantime::Duration = text.parse().map_err(|e| format!("{e}"))?;
    if std::time::Duration::from(duration) > MAX_WAIT {
        return Err("at most a day (24h)".into());
    }
    Ok(duration)
}

/// A rate of more than zero requests a second, and at most a billion.
fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 1e9 => Ok(rate),
        Ok(_) => Err("must be more than 0 and at most 1000000000 requests a second".into()),
        Err(_) => Err("write a number of requests a second, like 5000".into()),
    }
}

/// A duration of more than zero and at most a day: a run of no time sends nothing and
/// measures nothing.
fn positive_duration(text: &str) -> Result<humantime::Duration, String> {
    match text.parse::<humantime::Duration>() {
        Ok(duration) if duration.is_zero() => {
            Err("must be more than zero; a run of no time measures nothing".into())
        }
        Ok(duration) if *duration > MAX_WAIT => Err("at most 24h".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(format!(
            "{error}; write a number and a unit, like 10s or 500ms"
        )),
    }
}

/// A reply timeout: more than zero (no reply comes in no time) and at most a day.
fn timeout_duration(text: &str) -> Result<humantime::Duration, String> {
    positive_duration(text).map_err(|error| {
        error.replace(
            "a run of no time measures nothing",
            "no reply comes in no time",
        )
    })
}

/// An `--interval` of at least [`MIN_INTERVAL`].
fn interval_duration(text: &str) -> Result<humantime::Duration, String> {
    let duration = positive_duration(text)?;
    if *duration < MIN_INTERVAL {
        return Err(
            "at least 100ms: shorter, printing the lines becomes the load (as iperf3's -i)".into(),
        );
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    #[test]
    fn a_duration_must_be_more_than_zero() {
        for zero in ["0s", "0ms", "0"] {
            assert!(
                Cli::try_parse_from(["bench", "--duration", zero]).is_err(),
                "{zero}"
            );
        }
        let ok = Cli::try_parse_from(["bench", "--duration", "250ms"]).map(|cli| cli.args.duration);
        assert!(matches!(ok, Ok(Some(d)) if *d == std::time::Duration::from_millis(250)));
        assert!(Cli::try_parse_from(["bench", "--interval", "0s"]).is_err());
    }

    #[test]
    fn absurd_values_are_refused_naming_the_bound() {
        for (flag, value, says) in [
            ("--window", "4294967295", "4096"),
            ("--window", "4097", "4096"),
            ("--conns", "1000001", "1000000"),
            ("--interval", "1ns", "at least 100ms"),
            ("--interval", "99ms", "at least 100ms"),
            ("--timeout", "0s", "no reply comes in no time"),
            ("--timeout", "1000000000y", "at most 24h"),
            ("--duration", "2days", "at most 24h"),
        ] {
            let error = Cli::try_parse_from(["bench", flag, value])
                .err()
                .unwrap_or_else(|| panic!("{flag} {value} accepted"));
            assert!(error.to_string().contains(says), "{flag} {value}: {error}");
        }
        for (flag, value) in [
            ("--window", "4096"),
            ("--interval", "100ms"),
            ("--timeout", "24h"),
        ] {
            assert!(
                Cli::try_parse_from(["bench", flag, value]).is_ok(),
                "{flag} {value}"
            );
        }
    }

    #[test]
    fn a_rate_is_a_positive_number() {
        for bad in ["0", "-5", "nan", "inf", "fast", "2e9"] {
            assert!(
                Cli::try_parse_from(["bench", "--rate", bad]).is_err(),
                "{bad}"
            );
        }
        let ok = Cli::try_parse_from(["bench", "--rate", "2.5"]).map(|cli| cli.args.rate);
        assert!(matches!(ok, Ok(Some(rate)) if rate == 2.5));
    }
}

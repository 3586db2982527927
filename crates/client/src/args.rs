//! [`ClientArgs`]: the flags of `upcase client`. Parsing only validates; sockets come later.

use std::ffi::OsString;

use clap::Args;

/// Flags of `upcase client`.
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("secure").args(["tls", "quic"])))]
pub struct ClientArgs {
    /// Talk UDP: one datagram per message, retried when no reply comes
    #[arg(long, conflicts_with_all = ["tcp", "tls", "quic"])]
    pub udp: bool,

    /// Talk TCP (the default)
    #[arg(long, conflicts_with_all = ["tls", "quic"])]
    pub tcp: bool,

    /// Talk TLS: TCP's protocol inside TLS 1.3 or 1.2, the server's certificate checked
    #[arg(long)]
    pub tls: bool,

    /// Talk QUIC: a stream per exchange on one connection, TLS 1.3 inside, the server's
    /// certificate checked as with --tls
    #[arg(long, conflicts_with = "tls")]
    pub quic: bool,

    /// The TLS flags.
    #[command(flatten)]
    pub tls_args: crate::tls_args::TlsArgs,

    /// Server name or address, IPv4 or IPv6; every address it resolves to is tried
    #[arg(long, value_name = "HOST", default_value = "localhost",
          value_parser = upcase_transport::parse_host)]
    pub host: String,

    /// Server port [default: 12000, 12443 with --tls or --quic]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// How long to wait for a connection or a reply, like 1s or 250ms
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = positive_duration)]
    pub timeout: humantime::Duration,

    /// How many times to send a UDP message again when no reply comes in time
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// Probe the server N times, like ping: one line per probe with its round-trip time, then a
    /// summary. Each probe is a new connection (TCP) or socket (UDP), sent once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Time between the starts of two probes, with --count
    #[arg(long, value_name = "DURATION", default_value = "1s", requires = "count",
          value_parser = positive_duration)]
    pub interval: humantime::Duration,

    /// With --count: one connection for every probe instead of one each (over QUIC, a stream
    /// a probe: the probes after the first measure a stream's round trip, with no handshake)
    #[arg(long, requires = "count")]
    pub reuse: bool,

    /// The most bytes of one reply kept, for a message, a prompt's line or a probe; a server
    /// that sends more is cut off with an error. Standard input piped through has no limit:
    /// its replies stream to stdout as they come
    #[arg(long, value_name = "BYTES", default_value_t = upcase_transport::DEFAULT_MAX_REPLY,
          value_parser = at_least_one_byte)]
    pub max_reply: usize,

    /// Print JSON instead of text: one object for a message, one per probe and a summary for
    /// --count
    #[arg(long)]
    pub json: bool,

    /// The most time a message or a prompt's line may take, from connecting to its reply's
    /// end, like curl's --max-time: a server that trickles its reply is cut off then; 0 for no
    /// limit (a probe's limit is --timeout)
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = any_duration)]
    pub max_time: humantime::Duration,

    /// Print replies to a terminal as they are; without it, control characters in them (but
    /// newline and tab) are shown visibly, as `cat -v` shows them, so that a server cannot
    /// steer the terminal. Output that is not a terminal is always byte-exact
    #[arg(long)]
    pub raw: bool,

    /// Words to send as one message, joined by single spaces; without any, read standard input
    /// (with --count: the probe's message, `ping` when none is given)
    #[arg(value_name = "MESSAGE")]
    pub message: Vec<OsString>,
}

fn at_least_one_byte(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(error) => Err(format!("{error}; write a number of bytes, like 1048576")),
    }
}

/// The longest wait any flag takes: past a day, a deadline is no deadline.
const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn any_duration(text: &str) -> Result<humantime::Duration, String> {
    match text.parse::<humantime::Duration>() {
        Ok(duration) if *duration > MAX_WAIT => Err("at most 24h; 0 for no limit".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(format!(
            "{error}; write a number and a unit, like 30s, or 0 for none"
        )),
    }
}

fn positive_duration(text: &str) -> Result<humantime::Duration, String> {
    match text.parse::<humantime::Duration>() {
        Ok(duration) if duration.is_zero() => Err("must be more than zero".into()),
        Ok(duration) if *duration > MAX_WAIT => Err("at most 24h".into()),
        Ok(duration) => Ok(duration),
        Err(error) => Err(format!(
            "{error}; write a number and a unit, like 1s or 250ms"
        )),
    }
}

impl ClientArgs {
    /// The server's port: `--port`, else the textbook's, else TLS's.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(if self.tls || self.quic {
            upcase_transport::TLS_PORT
        } else {
            12_000
        })
    }

    /// The MESSAGE words joined by single spaces, if any were given.
    pub(crate) fn message(&self) -> Option<Vec<u8>> {
        if self.message.is_empty() {
            return None;
        }
        use std::os::unix::ffi::OsStrExt;
        let words: Vec<&[u8]> = self.message.iter().map(|word| word.as_bytes()).collect();
        Some(words.join(&b' '))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ClientArgs,
    }

    fn parse(argv: &[&str]) -> Result<ClientArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("client").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_are_tcp_to_localhost_12000() {
        let args = parse(&[]).expect("no flags");
        assert!(!args.udp);
        assert_eq!(
            (args.host.as_str(), args.port(), args.retries),
            ("localhost", 12000, 3)
        );
        assert_eq!(*args.timeout, std::time::Duration::from_secs(1));
        assert!(args.message.is_empty());
        assert_eq!((args.count, args.json), (None, false));
        assert_eq!(*args.interval, std::time::Duration::from_secs(1));
        assert_eq!(*args.max_time, std::time::Duration::from_secs(30));
        assert!(!args.raw);
    }

    #[test]
    fn max_time_takes_zero_for_none_and_refuses_nonsense() {
        assert!(
            parse(&["--max-time", "0"])
                .expect("valid")
                .max_time
                .is_zero()
        );
        assert!(parse(&["--max-time", "soon"]).is_err());
    }

    #[test]
    fn waits_past_a_day_are_refused_naming_the_bound() {
        for flag in ["--timeout", "--max-time"] {
            let error = parse(&[flag, "1000000000y"]).expect_err(flag);
            assert!(error.to_string().contains("at most 24h"), "{flag}: {error}");
            assert!(parse(&[flag, "24h"]).is_ok(), "{flag}");
        }
        let error = parse(&["--count", "2", "--interval", "2days"]).expect_err("interval");
        assert!(error.to_string().contains("at most 24h"), "{error}");
    }

    #[test]
    fn message_words_are_kept_apart() {
        let args = parse(&["--udp", "hello", "big", "world"]).expect("valid");
        assert!(args.udp);
        assert_eq!(args.message, ["hello", "big", "world"]);
    }

    #[test]
    fn interval_needs_count_and_count_is_positive() {
        let error = parse(&["--interval", "200ms"]).expect_err("no count");
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
        assert!(parse(&["--count", "0"]).is_err());
        let args = parse(&["--count", "3", "--interval", "200ms", "--json"]).expect("valid");
        assert_eq!((args.count, args.json), (Some(3), true));
        assert_eq!(*args.interval, std::time::Duration::from_millis(200));
    }

    #[test]
    fn udp_and_tcp_exclude_each_other() {
        let error = parse(&["--udp", "--tcp"]).expect_err("conflict");
        assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn port_zero_and_bad_durations_are_refused() {
        assert!(parse(&["--port", "0"]).is_err());
        assert!(parse(&["--port", "65536"]).is_err());
        assert!(parse(&["--timeout", "0s"]).is_err());
        assert!(parse(&["--timeout", "soon"]).is_err());
        assert_eq!(
            *parse(&["--timeout", "250ms"]).expect("valid").timeout,
            std::time::Duration::from_millis(250)
        );
    }
}

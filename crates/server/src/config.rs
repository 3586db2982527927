//! The config file, and [`Settings`]: the flags laid over it, with the defaults filled in.
//!
//! ```toml
//! udp = true
//! tcp = true
//! tls = false
//! bind = "::"
//! port = 12000
//! tls-port = 12443
//! cert = "/etc/upcase/cert.pem"
//! key = "/etc/upcase/key.pem"
//! client-ca = "/etc/upcase/clients.pem"
//! transform = "upper"
//! allow = ["10.0.0.0/8", "2001:db8::/32"]
//! deny = ["10.6.6.6"]
//! max-connections = 10000
//! max-connections-per-source = 256
//! max-datagrams-per-source = 1000
//! idle-timeout = "5m"
//! max-line = 65536
//! drain-timeout = "5s"
//! buffer-budget = 100663296
//! workers = 4
//! metrics = "127.0.0.1:9100"
//! proxy-protocol = false
//! proxy-from = ["10.0.0.5"]
//! ```

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use upcase_proto::Builtin;

use crate::access::{Access, parse_network};
use crate::args::ServerArgs;
use crate::error::ConfigError;
use crate::options::Options;

mod transports;
use transports::served;

/// The most worker threads: each takes two sockets, a UDP thread and a runtime, and past the
/// cores more only cost memory (about 700 KiB each) and descriptors.
pub(crate) const MAX_WORKERS: u32 = 256;

/// The port the textbook uses.
const DEFAULT_PORT: u16 = 12_000;

/// The config file as written: every key optional, no key unknown. Values with a syntax of
/// their own are read as strings and parsed here, so that an error can name the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    udp: Option<bool>,
    tcp: Option<bool>,
    tls: Option<bool>,
    tls_port: Option<u16>,
    quic: Option<bool>,
    quic_port: Option<u16>,
    cert: Option<std::path::PathBuf>,
    key: Option<std::path::PathBuf>,
    client_ca: Option<std::path::PathBuf>,
    bind: Option<String>,
    port: Option<u16>,
    transform: Option<String>,
    allow: Option<Vec<String>>,
    deny: Option<Vec<String>>,
    max_connections: Option<u32>,
    max_connections_per_source: Option<u32>,
    max_datagrams_per_source: Option<u32>,
    idle_timeout: Option<String>,
    max_line: Option<u32>,
    drain_timeout: Option<String>,
    buffer_budget: Option<u64>,
    workers: Option<u32>,
    metrics: Option<String>,
    proxy_protocol: Option<bool>,
    proxy_from: Option<Vec<String>>,
}

/// What the server will do: the flags, over the config file, over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Serve UDP.
    pub udp: bool,
    /// Serve TCP.
    pub tcp: bool,
    /// Serve TLS, with these files: `None` when TLS is not served.
    pub tls: Option<upcase_transport::TlsServerFiles>,
    /// The port for TLS; 0 for any free one.
    pub tls_port: u16,
    /// Serve QUIC, with these files (TLS's): `None` when QUIC is not served.
    pub quic: Option<upcase_transport::TlsServerFiles>,
    /// The UDP port for QUIC; 0 for any free one.
    pub quic_port: u16,
    /// The address to listen on; `None` for every address (dual-stack where possible).
    pub bind: Option<IpAddr>,
    /// The port to listen on; 0 for any free one.
    pub port: u16,
    /// What every reply is made with (`--transform`, upper case unless it says).
    pub transform: Builtin,
    /// Worker threads, each with sockets of its own on the shared port.
    pub workers: usize,
    /// Where to serve the counters over HTTP, if anywhere.
    pub metrics: Option<std::net::SocketAddr>,
    /// Limits for [`run`](crate::run).
    pub options: Options,
}

impl Settings {
    /// The certificate and key files TLS and QUIC are served with, if either is.
    pub fn key_files(&self) -> Option<&upcase_transport::TlsServerFiles> {
        self.tls.as_ref().or(self.quic.as_ref())
    }

    /// Reads the config file named by `--config`, if any, and lays the flags over it.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or parsed, has an unknown key, a bad value,
    /// or turns off both transports.
    pub fn resolve(args: &ServerArgs) -> Result<Settings, ConfigError> {
        let (file, path) = match &args.config {
            Some(path) => (read(path)?, path.as_path()),
            None => (File::default(), Path::new("")),
        };
        let bad = Bad(path);
        let transports = served(args, &file, &bad)?;
        let bind = parsed(
            args.bind,
            file.bind.clone(),
            "an IP address, like \"::\" or \"127.0.0.1\"",
            bad.key("bind"),
        )?;
        if let Some(ip) = bind
            && let Some(why) = not_bindable(ip)
        {
            return Err(match args.bind {
                Some(_) => ConfigError::Flag {
                    flag: format!("--bind {ip}"),
                    message: why,
                },
                None => bad.key("bind")(why),
            });
        }
        let transform = match (args.transform, &file.transform) {
            (Some(transform), _) => transform,
            (None, Some(name)) => name
                .parse()
                .map_err(|e| bad.key("transform")(format!("{e}")))?,
            (None, None) => Builtin::default(),
        };
        let metrics = parsed(
            args.metrics,
            file.metrics.clone(),
            "an address and port, like \"127.0.0.1:9100\"",
            bad.key("metrics"),
        )?;
        Ok(Settings {
            udp: transports.udp,
            tcp: transports.tcp,
            tls: transports.tls,
            tls_port: args
                .tls_port
                .or(file.tls_port)
                .unwrap_or(crate::tls_settings::DEFAULT_TLS_PORT),
            quic: transports.quic,
            quic_port: args
                .quic_port
                .or(file.quic_port)
                .unwrap_or(crate::tls_settings::DEFAULT_TLS_PORT),
            bind,
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            transform,
            workers: workers(args, &file, &bad)?,
            metrics,
            options: options(args, file, &bad)?,
        })
    }
}

/// Makes the error for a bad value in the config file at its path.
struct Bad<'a>(&'a Path);

impl Bad<'_> {
    /// The error maker for `key`'s value.
    fn key(&self, key: &'static str) -> impl Fn(String) -> ConfigError + '_ {
        move |message: String| ConfigError::Value {
            path: self.0.to_owned(),
            key,
            message,
        }
    }
}

/// How many worker threads: the flag's, else the file's, else one per core.
fn workers(args: &ServerArgs, file: &File, bad: &Bad<'_>) -> Result<usize, ConfigError> {
    let too_many = format!("at most {MAX_WORKERS}; one per core is usually best");
    let workers = match (args.workers, file.workers) {
        (Some(n), _) if n > MAX_WORKERS => {
            return Err(ConfigError::Flag {
                flag: format!("--workers {n}"),
                message: too_many,
            });
        }
        (None, Some(n)) if n > MAX_WORKERS => return Err(bad.key("workers")(too_many)),
        (flag, file) => at_least_one(flag.or(file), bad.key("workers"))?,
    };
    Ok(workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)))
}

/// The limits: each flag's, else the file's, else the default.
fn options(args: &ServerArgs, file: File, bad: &Bad<'_>) -> Result<Options, ConfigError> {
    let defaults = Options::default();
    let access = Access {
        allow: networks(&args.allow, file.allow, bad.key("allow"))?,
        deny: networks(&args.deny, file.deny, bad.key("deny"))?,
    };
    let max_connections = at_least_one(
        args.max_connections.or(file.max_connections),
        bad.key("max-connections"),
    )?;
    let max_line = at_least_one(args.max_line.or(file.max_line), bad.key("max-line"))?;
    let idle_timeout = duration(
        args.idle_timeout,
        file.idle_timeout,
        "idle-timeout",
        bad.key("idle-timeout"),
    )?;
    let drain_timeout = duration(
        args.drain_timeout,
        file.drain_timeout,
        "drain-timeout",
        bad.key("drain-timeout"),
    )?;
    let buffer_budget = match args.buffer_budget.or(file.buffer_budget) {
        Some(bytes) if bytes < crate::budget::MIN_BUDGET as u64 => {
            return Err(bad.key("buffer-budget")(format!(
                "at least {} bytes, one largest reply",
                crate::budget::MIN_BUDGET
            )));
        }
        Some(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
        None => defaults.buffer_budget,
    };
    Ok(Options {
        max_connections: max_connections.unwrap_or(defaults.max_connections),
        max_connections_per_source: args
            .max_connections_per_source
            .or(file.max_connections_per_source)
            .map_or(defaults.max_connections_per_source, |n| n as usize),
        max_datagrams_per_source: args
            .max_datagrams_per_source
            .or(file.max_datagrams_per_source)
            .unwrap_or(defaults.max_datagrams_per_source),
        idle_timeout: idle_timeout.unwrap_or(defaults.idle_timeout),
        max_line: max_line.unwrap_or(defaults.max_line),
        drain_timeout: drain_timeout.unwrap_or(defaults.drain_timeout),
        access,
        buffer_budget,
        proxy_protocol: args.proxy_protocol || file.proxy_protocol.unwrap_or(false),
        proxy_from: networks(&args.proxy_from, file.proxy_from, bad.key("proxy-from"))?,
    })
}

/// The flag's value, else the file's text parsed; `what` says what the text should have been.
fn parsed<T: std::str::FromStr>(
    flag: Option<T>,
    file: Option<String>,
    what: &str,
    bad: impl Fn(String) -> ConfigError,
) -> Result<Option<T>, ConfigError> {
    match (flag, file) {
        (Some(value), _) => Ok(Some(value)),
        (None, Some(text)) => match text.parse() {
            Ok(value) => Ok(Some(value)),
            Err(_) => Err(bad(format!("`{text}` is not {what}"))),
        },
        (None, None) => Ok(None),
    }
}

/// A count that must be at least 1, if one was given.
fn at_least_one(
    count: Option<u32>,
    bad: impl Fn(String) -> ConfigError,
) -> Result<Option<usize>, ConfigError> {
    match count {
        Some(0) => Err(bad("must be at least 1".into())),
        count => Ok(count.map(|n| n as usize)),
    }
}

/// Why a server cannot serve from `ip`, if it cannot: a broadcast or multicast address is
/// where datagrams go to many hosts, never one a client's connection or reply comes from.
fn not_bindable(ip: IpAddr) -> Option<String> {
    let what = match ip.to_canonical() {
        IpAddr::V4(v4) if v4.is_broadcast() => "the broadcast address",
        ip if ip.is_multicast() => "a multicast address",
        _ => return None,
    };
    Some(format!(
        "{what}; bind one of this host's own addresses, or :: (or 0.0.0.0) for all of them"
    ))
}

/// The longest idle or drain timeout: a year. Longer is no limit at all (0 says that), and
/// a deadline past the clock's range would end the server.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The flag's duration, else the file's, parsed; at most [`MAX_DURATION`].
fn duration(
    flag: Option<humantime::Duration>,
    file: Option<String>,
    name: &str,
    bad: impl Fn(String) -> ConfigError,
) -> Result<Option<Duration>, ConfigError> {
    let too_long = |duration: Duration| {
        format!(
            "{} is more than a year, the most; 0 means no limit",
            humantime::format_duration(duration)
        )
    };
    let bounded = |duration: Duration| {
        if duration > MAX_DURATION {
            Err(bad(too_long(duration)))
        } else {
            Ok(Some(duration))
        }
    };
    match (flag, file) {
        (Some(duration), _) if *duration > MAX_DURATION => Err(ConfigError::Flag {
            flag: format!("--{name} {duration}"),
            message: too_long(duration.into()),
        }),
        (Some(duration), _) => Ok(Some(duration.into())),
        (None, Some(text)) => match text.parse::<humantime::Duration>() {
            Ok(duration) => bounded(duration.into()),
            Err(e) => Err(bad(format!(
                "`{text}`: {e}; write a number and a unit, like \"5s\""
            ))),
        },
        (None, None) => Ok(None),
    }
}

/// The flag's networks if any were given, else the file's, parsed.
fn networks(
    flags: &[IpNet],
    file: Option<Vec<String>>,
    bad: impl Fn(String) -> ConfigError,
) -> Result<Vec<IpNet>, ConfigError> {
    if !flags.is_empty() {
        return Ok(flags.to_vec());
    }
    file.unwrap_or_default()
        .iter()
        .map(|text| parse_network(text).map_err(&bad))
        .collect()
}

fn read(path: &Path) -> Result<File, ConfigError> {
    let text = crate::operator_file::read_text(path)?;
    toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |span| span.start);
        ConfigError::Syntax {
            path: path.to_owned(),
            line: text.bytes().take(offset).filter(|&b| b == b'\n').count() + 1,
            // The message alone: toml's Display adds a multi-line excerpt of the file.
            message: e.message().trim_end().replace('\n', "; "),
        }
    })
}

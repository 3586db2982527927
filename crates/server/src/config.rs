//! The config file, and [`Settings`]: the flags laid over it, with the defaults filled in.
//!
//! ```toml
//! udp = true
//! tcp = true
//! bind = "::"
//! port = 12000
//! transform = "upper"
//! max-connections = 1024
//! drain-timeout = "5s"
//! ```

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use upcase_proto::Builtin;

use crate::{ConfigError, Options, ServerArgs};

/// The port the textbook uses.
const DEFAULT_PORT: u16 = 12_000;

/// The config file as written: every key optional, no key unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    udp: Option<bool>,
    tcp: Option<bool>,
    bind: Option<String>,
    port: Option<u16>,
    transform: Option<String>,
    max_connections: Option<u32>,
    drain_timeout: Option<String>,
}

/// What the server will do: the flags, over the config file, over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Serve UDP.
    pub udp: bool,
    /// Serve TCP.
    pub tcp: bool,
    /// The address to listen on; `None` for every address (dual-stack where possible).
    pub bind: Option<IpAddr>,
    /// The port to listen on; 0 for any free one.
    pub port: u16,
    /// The transform.
    pub transform: Builtin,
    /// Limits for [`run`](crate::run).
    pub options: Options,
}

impl Settings {
    /// Reads the config file named by `--config`, if any, and lays the flags over it.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or parsed, has an unknown key, a bad value,
    /// or turns off both transports.
    pub fn resolve(args: &ServerArgs) -> Result<Settings, ConfigError> {
        let file = match &args.config {
            Some(path) => Some((path.as_path(), read(path)?)),
            None => None,
        };
        let (path, file) = match &file {
            Some((path, file)) => (*path, file),
            None => (Path::new(""), &File::default()),
        };
        let value_error = |key, message: String| ConfigError::Value {
            path: path.to_owned(),
            key,
            message,
        };

        let (udp, tcp) = if args.udp || args.tcp {
            (args.udp, args.tcp)
        } else {
            match (file.udp, file.tcp) {
                (None, None) => (true, true),
                (udp, tcp) => (udp.unwrap_or(false), tcp.unwrap_or(false)),
            }
        };
        if !udp && !tcp {
            return Err(value_error(
                "udp",
                "udp and tcp are both off; turn one on".into(),
            ));
        }
        let bind = match (args.bind, &file.bind) {
            (Some(ip), _) => Some(ip),
            (None, Some(text)) => Some(text.parse().map_err(|_| {
                value_error(
                    "bind",
                    format!("`{text}` is not an IP address, like \"::\" or \"127.0.0.1\""),
                )
            })?),
            (None, None) => None,
        };
        let transform = match (args.transform, &file.transform) {
            (Some(transform), _) => transform,
            (None, Some(name)) => name
                .parse()
                .map_err(|e| value_error("transform", format!("{e}")))?,
            (None, None) => Builtin::default(),
        };
        let max_connections = match args.max_connections.or(file.max_connections) {
            Some(0) => return Err(value_error("max-connections", "must be at least 1".into())),
            Some(n) => n as usize,
            None => Options::default().max_connections,
        };
        let drain_timeout = match (args.drain_timeout, &file.drain_timeout) {
            (Some(duration), _) => duration.into(),
            (None, Some(text)) => parse_duration(text)
                .map_err(|e| value_error("drain-timeout", format!("`{text}`: {e}, like \"5s\"")))?,
            (None, None) => Options::default().drain_timeout,
        };
        Ok(Settings {
            udp,
            tcp,
            bind,
            port: args.port.or(file.port).unwrap_or(DEFAULT_PORT),
            transform,
            options: Options {
                max_connections,
                drain_timeout,
            },
        })
    }
}

fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    text.parse::<humantime::Duration>().map(Duration::from)
}

fn read(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
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

//! [`ServerError`] and [`ConfigError`]: what stops the server, and its exit code.

use std::io;
use std::path::PathBuf;

use upcase_transport::{TransportError, describe};

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The settings are wrong; nothing was bound.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A socket could not be bound.
    #[error("{error}; {hint}", error = .0, hint = bind_hint(.0))]
    Bind(TransportError),
    /// TLS's certificate, key or client CA cannot be used; nothing was bound.
    #[error("{0}")]
    Tls(upcase_transport::TlsFileError),
    /// The signal handlers could not be installed.
    #[error("cannot watch for Ctrl-C and SIGTERM: {}", describe(.0))]
    Signals(io::Error),
    /// A socket handed over by systemd or inetd cannot be served.
    #[error("{0}")]
    Inherited(String),
    /// A worker thread or its runtime could not be started.
    #[error("cannot start a worker thread: {}; try fewer --workers", describe(.0))]
    Worker(io::Error),
    /// The ready lines could not be written to stdout.
    #[error("cannot print the ready lines on stdout: {}; nothing would know the server is up", describe(.0))]
    Ready(io::Error),
    /// A second Ctrl-C or SIGTERM came during the drain: the open connections were dropped.
    #[error("stopped at once on a second signal; {open} open connections were dropped")]
    Abandoned {
        /// The connections open then.
        open: usize,
    },
    /// A worker thread ended abnormally (a bug: it panicked).
    #[error("a worker thread failed; please report it")]
    WorkerPanicked,
}

/// What to do about a socket that could not be bound: it depends on why.
fn bind_hint(error: &TransportError) -> &'static str {
    let out_of_files = matches!(
        error,
        TransportError::Bind { source, .. } if source.raw_os_error() == Some(EMFILE)
    );
    if out_of_files {
        "raise the open file limit (ulimit -n) or use fewer --workers"
    } else {
        "pick another --port or --bind, or stop what holds it"
    }
}

/// "Too many open files", the same number on every system the server runs on.
const EMFILE: i32 = 24;

impl ServerError {
    /// The process exit code: 2 for a usage or config error, 1 for a failure of the system or
    /// the network.
    pub fn exit_code(&self) -> u8 {
        match self {
            ServerError::Config(_) | ServerError::Inherited(_) | ServerError::Tls(_) => 2,
            ServerError::Bind(_)
            | ServerError::Signals(_)
            | ServerError::Worker(_)
            | ServerError::Ready(_)
            | ServerError::Abandoned { .. }
            | ServerError::WorkerPanicked => 1,
        }
    }
}

/// A config file that cannot be used. Each message names the file, and the key where one is at
/// fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {}; check the path given to --config", .path.display(), describe(.source))]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The path names something that is not a regular file (a FIFO, a device, a directory),
    /// or a file larger than any config file: reading it could block or take all memory.
    #[error("config file {}: {why}; give --config a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        why: String,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type.
    #[error("config file {}, line {line}: {message}", .path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where, counting from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A flag's value is of the right type but not allowed.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag and its value, as given.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// A key's value is of the right type but not allowed.
    #[error("config file {}: bad value for `{key}`: {message}", .path.display())]
    Value {
        /// The file.
        path: PathBuf,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

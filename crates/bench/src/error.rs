//! [`BenchError`]: why a load run could not be made, and its exit code.

use upcase_transport::{TransportError, describe};

/// Why `upcase bench` failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The flags ask for something that cannot be sent.
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached.
    #[error("{0}; is the server running there?")]
    Network(#[from] TransportError),
    /// TLS could not be set up: a file, a name, or the server's certificate or handshake.
    #[error("{0}")]
    Tls(TransportError),
    /// A connection or socket failed during the run.
    #[error("{}", describe(.0))]
    Io(#[from] std::io::Error),
    /// A file asked for could not be written.
    #[error("cannot write {flag} {}: {}", path.display(), describe(error))]
    File {
        /// The flag that named it.
        flag: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// A log to merge could not be read, or is no interval log.
    #[error("cannot merge {}: {reason}", path.display())]
    Log {
        /// The log.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The report could not be written to stdout.
    #[error("cannot write the report: {}", describe(.0))]
    Output(std::io::Error),
    /// The run finished, but some replies were wrong or none came.
    #[error("{0}")]
    Failed(String),
    /// The run finished, but some of its objectives (`--slo`) were broken.
    #[error("{0} of the run's objectives broken (--slo)")]
    Slo(usize),
}

impl BenchError {
    /// The process exit code: 2 for a usage error or a log that cannot be merged, 3 for a broken objective, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            BenchError::Usage(_) | BenchError::Log { .. } => 2,
            BenchError::Slo(_) => 3,
            _ => 1,
        }
    }
}

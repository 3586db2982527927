//! The upcase server: it answers every client with the transform of what the client sent, over
//! UDP, TCP or both.
//!
//! [`run`] serves one bound [`Listener`](upcase_transport::Listener) until a shutdown future
//! completes; it is generic over the transport and the transform, so a program can embed it
//! with a transform of its own. [`command`] is the `upcase server` command: it reads the flags
//! and the config file, binds, prints `listening on ...` for each socket, and runs until Ctrl-C
//! or SIGTERM.
//!
//! # Layout
//! - `args.rs`: [`ServerArgs`], the command-line flags.
//! - `config.rs`: the TOML config file and [`Settings`], flags laid over the file.
//! - `options.rs`: [`Options`], the limits a server serves within.
//! - `run.rs`: [`run`] and [`serve`]: the accept loop and each connection's loop, to its end
//!   or the drain's.
//! - `service.rs`: [`Service`], what the listeners of one server share: the limits, the
//!   counters, admission of each peer, and the drain.
//! - `datagram.rs`: answering one datagram under the service's rules, and
//!   [`serve_blocking_udp`], which does it on a thread of its own for a blocking UDP socket
//!   (Linux).
//! - `echo.rs`: the rule that ends a loop with another echo-like service, started by one
//!   forged datagram.
//! - `budget.rs`: the one budget of reply bytes that all connections share.
//! - `cut.rs`: the signal that ends the drain for every open connection.
//! - `policy.rs`: [`Access`] lists, per-source limits, and the UDP reflection rules.
//! - `reload.rs`: what SIGHUP does: the config file read again, its access lists applied.
//! - `stats.rs`: [`Totals`] of [`Event`]s, and the throttle that keeps floods out of the log.
//! - `inherit.rs`: sockets handed over by systemd (`LISTEN_FDS`) or inetd (`--inetd`).
//! - `log.rs`: [`LogWriter`], stderr for the log, where a line that cannot be written is
//!   dropped and counted rather than stopping the server.
//! - `metrics.rs`: the counters as Prometheus text, served on `--metrics`.
//! - `command.rs`: [`command`]: binding both transports on one port, a worker thread per core
//!   with sockets of its own, signals, the ready lines.
//! - `error.rs`: [`ServerError`] and [`ConfigError`], with their exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod budget;
mod command;
mod config;
mod cut;
mod datagram;
mod echo;
mod error;
mod inherit;
mod log;
mod metrics;
mod options;
mod policy;
mod reload;
mod run;
mod service;
mod stats;

pub use args::ServerArgs;
pub use budget::MIN_BUDGET;
pub use command::command;
pub use config::Settings;
#[cfg(target_os = "linux")]
pub use datagram::serve_blocking_udp;
pub use error::{ConfigError, ServerError};
pub use inherit::stderr_is_a_socket;
pub use log::{LogWriter, dropped_log_lines};
pub use metrics::{prometheus, serve_metrics};
pub use options::Options;
pub use policy::{Access, parse_network};
pub use run::{run, serve, serve_connection};
pub use service::Service;
pub use stats::{EVENTS, Event, Totals};

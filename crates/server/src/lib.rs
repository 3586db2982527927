#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - `args.rs`: [`ServerArgs`], the command-line flags.
//! - `config.rs`: the TOML config file and [`Settings`], flags laid over the file;
//!   `config/transports.rs`, which transports they serve (TLS and QUIC with their files).
//! - `tls_settings.rs`: TLS's part of the settings: its port and its files.
//! - `operator_file.rs`: reading `--config` so that a FIFO, a device or a huge file cannot
//!   block or fill the server.
//! - `cert.rs`: [`cert`], `upcase cert`: a self-signed certificate and key to try TLS with.
//! - `options.rs`: [`Options`], the limits a server serves within.
//! - `run.rs`: [`run`] and [`serve`], and [`Serve`], where each transport's socket is sent
//!   to its own loop.
//! - `service.rs`: [`Service`], what the sockets of one server share: the limits, the
//!   counters, and the drain, with the signal that ends it for every open connection.
//! - `datagram.rs`: where a datagram gets its reply: every UDP rule (access, reflection, rate,
//!   line limit, amplification, size, echo loops), and the loops that apply them to a socket's
//!   batches, on the event loop or, with [`serve_blocking_udp`], on a thread of its own
//!   (Linux).
//! - `accept.rs`: the accept loop of a stream transport (TCP, TLS), its timer kept ahead of
//!   the connections', each connection's admission, the drain of those still open, and [`serve_connection`] for one accepted
//!   elsewhere.
//! - `quic_serve.rs`: QUIC's loop: each connection admitted as TCP's are (Retry while many
//!   handshakes are under way), its handshake, then each stream served as a connection.
//! - `proxy.rs`: `--proxy-protocol`: whom a PROXY header is believed from (`--proxy-from`),
//!   and a proxied connection's admission before and after its header.
//! - `connection.rs`: one connection from its start (TLS's handshake, failures counted by
//!   kind), its loop, read, answer, write, to its end, and how it ended.
//! - `door.rs`: the connection's peer behind its idle deadline, the reply budget and the
//!   drain's end, on one timer: a read that yields a chunk or the reason to stop, a write.
//! - `gate.rs`: who may be served, and the one place a connection, a balancer or a datagram
//!   is let in or refused.
//! - `reflection.rs`: the sources a datagram must never be answered at (small services' ports,
//!   this service's own, broadcast and multicast).
//! - `echo.rs`: the rule that ends a loop with another echo-like service, started by one
//!   forged datagram.
//! - `budget.rs`: the one budget of reply bytes that all connections share.
//! - `access.rs`: [`Access`] lists, `--allow` and `--deny`.
//! - `sources.rs`: where a peer comes from (its address as rules and limits see it: IPv4 mapped
//!   into IPv6 or carried by NAT64 is IPv4), and the per-source limits: connections open,
//!   datagrams a second.
//! - `reload.rs`: what SIGHUP does: TLS's (and QUIC's) files and the config file read again, what can be
//!   applied applied.
//! - `totals.rs`: [`Totals`] of [`Event`]s, and the [`Traffic`] of each transport.
//! - `stats.rs`: the live counters, a shard per thread, and the throttle that keeps floods out
//!   of the log.
//! - `inherit.rs`: sockets handed over by systemd (`LISTEN_FDS`) or inetd (`--inetd`).
//! - `log.rs`: [`LogWriter`], stderr for the log, where a line that cannot be written is
//!   dropped and counted rather than stopping the server.
//! - `metrics.rs`: the service's counters and the process's, as Prometheus reads them
//!   (`prometheus-client`), built at each scrape.
//! - `process.rs`: the process's CPU, memory and descriptors, from /proc.
//! - `endpoint.rs`: `--metrics`: `/metrics`, `/healthz` and `/readyz` over HTTP.
//! - `command.rs`: [`command`], in named steps: signals, sockets, the ready lines, the
//!   workers, the drain.
//! - `served.rs`: the transports served, chosen once: the one list of them.
//! - `sockets.rs`: one worker's sockets, each with its transport: UDP and TCP bound on one
//!   port, TLS on its own, for each worker.
//! - `worker.rs`: a worker thread per core with sockets of its own, and on Linux a thread for
//!   its UDP socket.
//! - `error.rs`: [`ServerError`] and [`ConfigError`], with their exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod accept;
mod access;
mod args;
mod budget;
mod cert;
mod command;
mod config;
mod connection;
mod datagram;
mod door;
mod echo;
mod endpoint;
mod error;
mod gate;
mod inherit;
mod log;
mod metrics;
mod operator_file;
mod options;
mod process;
mod proxy;
mod quic_serve;
mod reflection;
mod reload;
mod run;
mod served;
mod service;
mod sockets;
mod sources;
mod stats;
mod tls_settings;
mod totals;
mod worker;

pub use accept::serve_connection;
pub use access::{Access, parse_network};
pub use args::{LogFormat, ServerArgs};
pub use budget::MIN_BUDGET;
pub use cert::{Algorithm, CertArgs, CertError, cert};
pub use command::command;
pub use config::Settings;
#[cfg(target_os = "linux")]
pub use datagram::serve_blocking_udp;
pub use endpoint::serve_metrics;
pub use error::{ConfigError, ServerError};
pub use inherit::stderr_is_a_socket;
pub use log::{LogWriter, dropped_log_lines};
pub use metrics::{Format, encode};
pub use options::Options;
pub use run::{Serve, run, serve};
pub use service::Service;
pub use totals::{EVENTS, Event, HANDSHAKE_FAILURES, Totals, Traffic, VIAS, Via};

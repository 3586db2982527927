//! `upcase bench`: a load generator for the textbook's protocol. It keeps a window of requests
//! in flight on each of several connections (or UDP sockets), for a time or a number of
//! requests, checks every reply, and reports replies per second and latency percentiles. It
//! works against any echo or capitalization server: requests are lowercase, and a server is
//! taken to echo or to upper-case by its first reply, then held to it.
//!
//! # Layout
//! - `args.rs`: [`BenchArgs`], the command-line flags.
//! - `payload.rs`: the requests, and how replies are checked.
//! - `tcp.rs`: connections with a window in flight, and connection-per-request.
//! - `udp.rs`: sockets with a window of datagrams in flight, with loss.
//! - `report.rs`: [`Report`]: counts and latency, as text or JSON.
//! - `command.rs`: [`command`]: the run, its workers and its progress line.
//! - `error.rs`: [`BenchError`] and its exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod command;
mod error;
mod payload;
mod report;
mod tcp;
mod udp;

pub use args::BenchArgs;
pub use command::command;
pub use error::BenchError;
pub use report::Report;

#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - `args.rs`: [`BenchArgs`], the command-line flags.
//! - `payload.rs`: the requests, and how replies are checked.
//! - `load.rs`: what every worker shares, and when each request is due (open or closed loop).
//! - `pacer.rs`: wakes an open-loop worker when its next request is due, to the microsecond.
//! - `tally.rs`: counts and latency histograms, and each thread's share of them.
//! - `tcp.rs`: a stream connection with a window in flight, read and written by turns, through
//!   the transport's `Wire` (TCP's socket, or TLS driven by hand).
//! - `reconnect.rs`: a connection per request, TCP, TLS (full or resumed handshakes) or QUIC.
//! - `quic.rs`: a QUIC connection with a window of streams in flight, a request each.
//! - `udp.rs`: a socket with a window of datagrams in flight, with loss.
//! - `datagrams.rs`: datagrams many to a system call (segmented sends, `recvmmsg`).
//! - `plan.rs`: a run to make, and what its workers are.
//! - `run.rs`: the threads, each a runtime with its share of the workers, and the intervals.
//! - `open.rs`: what each worker starts with (a connection, a handshake, a socket), and the
//!   loop that serves it.
//! - `report.rs`: [`Report`] and the interval lines, as text or JSON.
//! - `hgrm.rs`: the latency distribution in HdrHistogram's percentile text.
//! - `hlog.rs`: `--hlog`, HdrHistogram's interval log, a histogram an interval.
//! - `hlog_meta.rs`: the log's own lines: the run, each interval's counts, the end.
//! - `hlog_read.rs`: a log read back, histograms and lines.
//! - `merge.rs`: `upcase bench merge`, many logs added up interval by interval.
//! - `together.rs`: what the logs make as one run, and how they differ.
//! - `share.rs`: `--share I/N`, one generator's part of a rate shared by many.
//! - `start_at.rs`: `--start-at`, when the load starts, so that generators start together.
//! - `sink.rs`: where each interval goes: a line, the progress line, the log.
//! - `slo.rs`: `--slo`, objectives checked against the report.
//! - `plot.rs`: the run as an SVG picture.
//! - `publish.rs`: a report out: files, stdout, and the exit status, for a run or a merge.
//! - `command.rs`: [`command`]: from flags to the printed report and files.
//! - `error.rs`: [`BenchError`] and its exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod command;
mod datagrams;
mod error;
mod hgrm;
mod hlog;
mod hlog_meta;
mod hlog_read;
mod load;
mod merge;
mod open;
mod pacer;
mod payload;
mod plan;
mod plot;
mod publish;
mod quic;
mod reconnect;
mod report;
mod run;
mod share;
mod sink;
mod slo;
mod start_at;
mod tally;
mod tcp;
mod together;
mod udp;

pub use args::{BenchArgs, BenchCommand};
pub use command::command;
pub use error::BenchError;
pub use merge::MergeArgs;
pub use report::{Handshakes, IntervalLine, Latency, Merged, Rate, Report, SloCheck};
pub use share::Share;
pub use slo::Slo;
pub use start_at::StartAt;

#![doc = include_str!("../README.md")]
//!
//! [`command`] is the `upcase client` command. It picks one of three modes:
//! - MESSAGE words on the command line: sends them, joined by single spaces, as one message,
//!   prints the reply and exits;
//! - standard input is a terminal: prompts `Input lowercase sentence:` for each line until EOF;
//! - standard input is a pipe or file: streams it (TCP, TLS, QUIC) or sends each line as a
//!   datagram (UDP),
//!   writing the replies to standard output as they come;
//! - `--count N`: probes the server N times like ping, a line per probe and a summary.
//!
//! `--json` prints the one-shot and probing modes as JSON.
//!
//! # Layout
//! - `args.rs`: [`ClientArgs`], the command-line flags.
//! - `command.rs`: [`command`]: resolving the host, choosing the transport and the mode.
//! - `ping.rs`: the probing mode, a line per probe.
//! - `tls_args.rs`: [`TlsArgs`], the TLS flags the client and the load generator share.
//! - `summary.rs`: the probes' summary, as ping's with two percentiles.
//! - `expect.rs`: what a probe's reply should be, upper case or an echo, and how it is wrong.
//! - `pipe.rs`: the pipe mode, stdin through the transport's one pipe to stdout, each end's
//!   failure told apart from the network's.
//! - `stdio.rs`: the process's stdin and stdout as the runtime's reader and writer, read and
//!   written on its thread whenever `poll` says they are ready.
//! - `output.rs`: standard output, where a reader that went away is not an error, and the
//!   lines (text or JSON) the modes print on it.
//! - `visible.rs`: replies made safe to show on a terminal: control characters as `cat -v`
//!   shows them.
//! - `error.rs`: [`ClientError`], its hints and its exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod command;
mod error;
mod expect;
mod output;
mod ping;
mod pipe;
mod stdio;
mod summary;
mod tls_args;
mod visible;

pub use args::ClientArgs;
pub use command::command;
pub use error::ClientError;
pub use tls_args::TlsArgs;

#![doc = include_str!("../README.md")]
//!
//! [`command`] is the `upcase client` command. It picks one of three modes:
//! - MESSAGE words on the command line: sends them, joined by single spaces, as one message,
//!   prints the reply and exits;
//! - standard input is a terminal: prompts `Input lowercase sentence:` for each line until EOF;
//! - standard input is a pipe or file: streams it (TCP) or sends each line as a datagram (UDP),
//!   writing the replies to standard output as they come;
//! - `--count N`: probes the server N times like ping, a line per probe and a summary.
//!
//! `--json` prints the one-shot and probing modes as JSON.
//!
//! # Layout
//! - `args.rs`: [`ClientArgs`], the command-line flags.
//! - `command.rs`: [`command`]: resolving the host, choosing the transport and the mode.
//! - `ping.rs`: the probing mode and its summary.
//! - `pipe.rs`: the TCP pipe mode: stdin through one connection on two threads of blocking I/O.
//! - `output.rs`: standard output, where a reader that went away is not an error, and the
//!   lines (text or JSON) the modes print on it.
//! - `error.rs`: [`ClientError`], its hints and its exit codes.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod args;
mod command;
mod error;
mod output;
mod ping;
mod pipe;

pub use args::ClientArgs;
pub use command::command;
pub use error::ClientError;

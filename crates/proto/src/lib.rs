#![doc = include_str!("../README.md")]
//!
//! # Layout
//! - `transform.rs`: the [`Transform`] trait, what a transform is handed and when.
//! - `builtin.rs`: [`Builtin`], the transforms chosen by name (`upper`, `lower`, `echo`, `count=C`).
//! - `case.rs`: Unicode full case mapping with an ASCII fast path.
//! - `count.rs`: [`Count`], the textbook's variation: how often one character occurs in each line.
//! - `growth.rs`: how much a transform may write ([`MAX_GROWTH`], [`MAX_OWED`]), and
//!   [`check_growth`], which holds one to it.
//! - `transformer.rs`: [`Transformer`], the chunk-tolerant engine for streams and datagrams.
//! - `datagram.rs`: the UDP rules: the size limits, and the 3x bound on a reply ([`MAX_AMPLIFICATION`]).
//! - `message.rs`: lines to messages and replies to lines, for line-oriented clients.
//! - `error.rs`: [`ParseTransformError`] and [`LineTooLong`].
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builtin;
mod case;
mod count;
mod datagram;
mod error;
mod growth;
mod message;
mod transform;
mod transformer;

pub use builtin::Builtin;
pub use case::{Lower, Upper};
pub use count::Count;
pub use datagram::{
    MAX_AMPLIFICATION, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, max_datagram, within_amplification,
};
pub use error::{LineTooLong, ParseTransformError};
pub use growth::{GrowthBroken, MAX_GROWTH, MAX_OWED, check_growth};
pub use message::{line_message, reply_line};
pub use transform::{Echo, Transform};
pub use transformer::Transformer;

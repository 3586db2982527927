//! Errors of this crate.

/// A transform name that [`Builtin`](crate::Builtin) does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTransformError {
    /// The name is none of the built-in transforms.
    #[error("unknown transform `{0}`: choose upper, lower, echo or count=C")]
    Unknown(String),
    /// `count=` was not followed by exactly one character other than LF.
    #[error(
        "transform `{0}` needs exactly one character after `count=` (not a newline), like count=s"
    )]
    BadCount(String),
}

/// A line longer than a [`Transformer`](crate::Transformer)'s maximum, for a transform that
/// answers lines. The stream cannot go on: the line would have no correct answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {max} bytes")]
pub struct LineTooLong {
    /// The maximum line length, in bytes, not counting the LF.
    pub max: usize,
}

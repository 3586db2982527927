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

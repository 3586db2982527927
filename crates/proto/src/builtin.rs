//! [`Builtin`]: the transforms a user picks by name.

use std::fmt;
use std::str::FromStr;

use crate::case::{Lower, Upper};
use crate::count::Count;
use crate::error::ParseTransformError;
use crate::transform::{Echo, Transform};

/// One of the built-in transforms, chosen by name at run time.
///
/// | name      | does                                                   |
/// |-----------|--------------------------------------------------------|
/// | `upper`   | [`Upper`]: upper case (the default)                    |
/// | `lower`   | [`Lower`]: lower case                                  |
/// | `echo`    | [`Echo`]: every byte back unchanged (RFC 862)          |
/// | `count=C` | [`Count`]: how often `C` occurs in each line           |
///
/// ```
/// use upcase_proto::Builtin;
///
/// let t: Builtin = "count=s".parse()?;
/// assert_eq!(t.to_string(), "count=s");
/// assert!("shout".parse::<Builtin>().is_err());
/// # Ok::<(), upcase_proto::ParseTransformError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Builtin {
    /// Upper case.
    #[default]
    Upper,
    /// Lower case.
    Lower,
    /// Identity.
    Echo,
    /// Count one character per line.
    Count(Count),
}

impl Transform for Builtin {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        match self {
            Builtin::Upper => Upper.text(text, out),
            Builtin::Lower => Lower.text(text, out),
            Builtin::Echo => Echo.text(text, out),
            Builtin::Count(count) => count.text(text, out),
        }
    }

    fn raw(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        match self {
            Builtin::Count(count) => count.raw(bytes, out),
            Builtin::Upper | Builtin::Lower | Builtin::Echo => out.extend_from_slice(bytes),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if let Builtin::Count(count) = self {
            count.finish(out);
        }
    }

    fn answers_lines(&self) -> bool {
        matches!(self, Builtin::Count(_))
    }
}

impl FromStr for Builtin {
    type Err = ParseTransformError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "upper" => Ok(Builtin::Upper),
            "lower" => Ok(Builtin::Lower),
            "echo" => Ok(Builtin::Echo),
            _ => {
                let target = name
                    .strip_prefix("count=")
                    .ok_or_else(|| ParseTransformError::Unknown(name.to_owned()))?;
                let mut chars = target.chars();
                match (chars.next().and_then(Count::new), chars.next()) {
                    (Some(count), None) => Ok(Builtin::Count(count)),
                    _ => Err(ParseTransformError::BadCount(name.to_owned())),
                }
            }
        }
    }
}

impl fmt::Display for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Builtin::Upper => f.write_str("upper"),
            Builtin::Lower => f.write_str("lower"),
            Builtin::Echo => f.write_str("echo"),
            Builtin::Count(count) => write!(f, "count={}", count.target()),
        }
    }
}

//! How much a [`Transform`] may write: the bound the server's memory rests on, and
//! [`check_growth`], which holds a transform to it.
//!
//! The server reserves room for a reply before it makes it, counts the replies that wait for a
//! slow reader against one budget, and answers a datagram with at most three times its bytes.
//! All of that assumes a transform answers as it reads: a transform that held its input back
//! until [`finish`](Transform::finish) would owe, at the end, as much as it was ever sent.

use std::fmt;

use crate::transform::Transform;
use crate::transformer::Transformer;

/// The most bytes one call of [`text`](Transform::text) or [`raw`](Transform::raw) may write
/// for each byte it is given: the case mappings' worst (`ΐ`, two bytes, upper-cases to three
/// characters of two bytes each).
pub const MAX_GROWTH: usize = 3;

/// The most bytes a call may write beyond [`MAX_GROWTH`] times its input, and the most
/// [`finish`](Transform::finish) may write: what a transform may owe for the input it has
/// seen, such as `count=C`'s count of a line (20 digits and a line feed) when the line feed
/// comes alone.
pub const MAX_OWED: usize = 24;

/// A call that wrote more than the bound allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrowthBroken {
    /// `text`, `raw` or `finish`.
    pub call: &'static str,
    /// Bytes it was given.
    pub input: usize,
    /// Bytes it wrote.
    pub output: usize,
}

impl fmt::Display for GrowthBroken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` wrote {} bytes for {} (at most {} × input + {})",
            self.call, self.output, self.input, MAX_GROWTH, MAX_OWED
        )
    }
}

impl std::error::Error for GrowthBroken {}

/// Feeds `input` to a fresh copy of `transform` in chunks of `chunk` bytes (at least 1) as a
/// stream, then finishes it, checking every call against the bound; the first call past it.
///
/// ```
/// use upcase_proto::{Builtin, check_growth};
///
/// for chunk in [1, 2, 7, 4096] {
///     check_growth(&Builtin::Upper, "ΐ straße\nﬃ".as_bytes(), chunk)?;
/// }
/// # Ok::<(), upcase_proto::GrowthBroken>(())
/// ```
///
/// # Errors
/// [`GrowthBroken`] for the first call that wrote too much.
pub fn check_growth<T: Transform>(
    transform: &T,
    input: &[u8],
    chunk: usize,
) -> Result<(), GrowthBroken> {
    let mut transformer = Transformer::new(Watched {
        inner: transform.clone(),
        broken: None,
    });
    let mut out = Vec::new();
    for piece in input.chunks(chunk.max(1)) {
        // Only transforms that answer lines refuse a long line, and only with a maximum set.
        let _ = transformer.feed(piece, &mut out);
    }
    transformer.finish(&mut out);
    match transformer.into_inner().broken {
        Some(broken) => Err(broken),
        None => Ok(()),
    }
}

/// A transform whose every call is measured.
#[derive(Clone)]
struct Watched<T> {
    inner: T,
    broken: Option<GrowthBroken>,
}

impl<T> Watched<T> {
    fn measure(&mut self, call: &'static str, input: usize, output: usize, allowed: usize) {
        if output > allowed && self.broken.is_none() {
            self.broken = Some(GrowthBroken {
                call,
                input,
                output,
            });
        }
    }
}

impl<T: Transform> Transform for Watched<T> {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        let before = out.len();
        self.inner.text(text, out);
        let allowed = MAX_GROWTH * text.len() + MAX_OWED;
        self.measure("text", text.len(), out.len() - before, allowed);
    }

    fn raw(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        let before = out.len();
        self.inner.raw(bytes, out);
        let allowed = MAX_GROWTH * bytes.len() + MAX_OWED;
        self.measure("raw", bytes.len(), out.len() - before, allowed);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        let before = out.len();
        self.inner.finish(out);
        self.measure("finish", 0, out.len() - before, MAX_OWED);
    }

    fn answers_lines(&self) -> bool {
        self.inner.answers_lines()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::Builtin;

    /// Text that reaches every bound: the worst case mappings, lines long and short, a line
    /// feed alone after a long line, bytes that are not UTF-8.
    fn hard_input() -> Vec<u8> {
        let mut input = "ΐΰﬃ straße İ ǅ\n\n".repeat(40).into_bytes();
        input.extend(std::iter::repeat_n(b's', 100_000));
        input.push(b'\n');
        input.extend_from_slice(b"\xff\xfe\xc3 tail ss");
        input
    }

    #[test]
    fn every_builtin_transform_keeps_to_the_growth_bound_however_its_input_is_cut() {
        let input = hard_input();
        for name in ["upper", "lower", "echo", "count=s", "count=ΐ"] {
            let transform: Builtin = name.parse().expect("a built-in");
            for chunk in [1, 2, 3, 5, 64, 16 * 1024, input.len()] {
                let checked = check_growth(&transform, &input, chunk);
                assert_eq!(checked, Ok(()), "{name} in chunks of {chunk}");
            }
        }
    }

    /// Holds everything until the end: what the bound exists to refuse.
    #[derive(Clone, Default)]
    struct Hoarder(Vec<u8>);

    impl Transform for Hoarder {
        fn text(&mut self, text: &str, _out: &mut Vec<u8>) {
            self.0.extend_from_slice(text.as_bytes());
        }
        fn finish(&mut self, out: &mut Vec<u8>) {
            out.append(&mut self.0);
        }
    }

    /// Writes four bytes for each it is given.
    #[derive(Clone)]
    struct Quadruple;

    impl Transform for Quadruple {
        fn text(&mut self, text: &str, out: &mut Vec<u8>) {
            for b in text.bytes() {
                out.extend_from_slice(&[b; 4]);
            }
        }
    }

    #[test]
    fn a_transform_that_hoards_or_grows_past_three_times_is_caught() {
        let input = vec![b'a'; 1000];
        let hoarded = check_growth(&Hoarder::default(), &input, 100);
        assert_eq!(
            hoarded.map_err(|broken| (broken.call, broken.output)),
            Err(("finish", 1000))
        );
        let grown = check_growth(&Quadruple, &input, 100);
        assert_eq!(grown.map_err(|broken| broken.call), Err("text"));
        assert!(
            check_growth(&Quadruple, b"a", 1).is_ok(),
            "within the owed slack"
        );
    }
}

//! The [`Transform`] trait: what the service does to the text it is sent.

/// A mapping from text to text, applied to a stream piece by piece.
///
/// A transform never sees raw bytes from the network directly: a [`Transformer`](crate::Transformer)
/// decodes them and calls, in stream order,
/// 1. [`text`](Transform::text) with whole characters of valid UTF-8 (never a split character),
/// 2. [`raw`](Transform::raw) with each run of bytes that is not valid UTF-8 (at most 3 bytes, never
///    an ASCII byte, so never a line feed),
/// 3. [`finish`](Transform::finish) once, when the stream ends.
///
/// How the input is cut into calls is up to the network, so a transform must give the same output
/// for any cutting: keep whatever state that needs in `self`. After `finish` the transform must be
/// ready for a new stream. The server clones one prototype for every connection and datagram.
///
/// # How much it may write
/// The server reserves room for a reply before making it and holds the replies a slow reader
/// has not taken against one budget, so a transform answers as it reads, within a bound:
/// - each call of `text` or `raw` writes at most [`MAX_GROWTH`](crate::MAX_GROWTH) (3) times the
///   bytes it was given, plus [`MAX_OWED`](crate::MAX_OWED) bytes;
/// - `finish` writes at most [`MAX_OWED`](crate::MAX_OWED) bytes;
/// - the state kept in `self` does not grow with the input.
///
/// A transform that held its input until `finish` would break all three.
/// [`check_growth`](crate::check_growth) holds a transform to the bound on an input cut as you
/// choose; every built-in transform, and the examples', are tested with it.
///
/// ```
/// use upcase_proto::{Transform, Transformer};
///
/// /// Swaps the case of ASCII letters; leaves everything else alone.
/// #[derive(Clone)]
/// struct SwapCase;
///
/// impl Transform for SwapCase {
///     fn text(&mut self, text: &str, out: &mut Vec<u8>) {
///         out.extend(text.bytes().map(|b| if b.is_ascii_alphabetic() { b ^ 0x20 } else { b }));
///     }
/// }
///
/// let mut out = Vec::new();
/// Transformer::new(SwapCase).datagram(b"Hello", &mut out)?;
/// assert_eq!(out, b"hELLO");
/// // It writes a byte for each it is given, within the bound every transform keeps to.
/// upcase_proto::check_growth(&SwapCase, "Hello, ΐ".as_bytes(), 1)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Transform: Clone + Send + 'static {
    /// Transforms `text`, appending the result to `out`.
    fn text(&mut self, text: &str, out: &mut Vec<u8>);

    /// Handles bytes that are not valid UTF-8. The default returns them unchanged, so that the
    /// service never drops or rejects a byte.
    fn raw(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(bytes);
    }

    /// Ends the stream: appends whatever is still owed and resets for the next stream.
    fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
    }

    /// Whether this transform answers whole lines (as `count=C` does) rather than characters.
    /// A [`Transformer`](crate::Transformer) holds the lines of such a transform to a maximum
    /// length, if it is given one.
    fn answers_lines(&self) -> bool {
        false
    }
}

/// The identity transform of the Echo Protocol (RFC 862): every byte comes back as it was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Echo;

impl Transform for Echo {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(text.as_bytes());
    }
}

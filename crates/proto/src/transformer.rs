//! [`Transformer`]: feeds a [`Transform`] from bytes cut at arbitrary places.

use crate::error::LineTooLong;
use crate::transform::Transform;

/// Drives a [`Transform`] over a byte stream that arrives in chunks of any size.
///
/// Call [`feed`](Self::feed) with each chunk as it arrives and [`finish`](Self::finish) when the
/// stream ends; each call appends the output it can already give to a buffer you own. Output never
/// waits for a newline: a chunk's text is transformed as soon as its characters are whole. A UTF-8
/// sequence split between chunks is held (at most 3 bytes) and joined with the next chunk. Bytes
/// that are not valid UTF-8 reach [`Transform::raw`], which by default passes them through.
///
/// The output is the same however the input is cut, byte for byte.
///
/// For a transform that answers lines, [`with_max_line`](Self::with_max_line) bounds how long a
/// line may be; a longer one ends the stream with [`LineTooLong`], after the lines before it
/// have been answered.
#[derive(Debug, Clone)]
pub struct Transformer<X> {
    /// The transform, holding any state of its own (such as a line's count).
    transform: X,
    /// The start of a character whose remaining bytes have not arrived yet.
    pending: [u8; 4],
    /// How many bytes of `pending` are in use: 0 to 3.
    pending_len: usize,
    /// The longest line allowed, for a transform that answers lines.
    max_line: Option<usize>,
    /// Bytes of the current line so far, when `max_line` is set.
    line_len: usize,
    /// Whether a line went past `max_line`; the stream takes nothing more until `finish`.
    overflowed: bool,
    /// Bytes that were not valid UTF-8, passed to [`Transform::raw`] so far.
    invalid: u64,
}

impl<X: Transform> Transformer<X> {
    /// A transformer at the start of a stream.
    pub fn new(transform: X) -> Self {
        Self {
            transform,
            pending: [0; 4],
            pending_len: 0,
            max_line: None,
            line_len: 0,
            overflowed: false,
            invalid: 0,
        }
    }

    /// Bounds lines to `max` bytes (not counting the LF), if the transform answers lines;
    /// otherwise there are no lines to bound and this changes nothing.
    pub fn with_max_line(mut self, max: usize) -> Self {
        self.max_line = self.transform.answers_lines().then_some(max);
        self
    }

    /// The transform, with whatever state it holds.
    pub fn into_inner(self) -> X {
        self.transform
    }

    /// How many bytes that were not valid UTF-8 this transformer has seen (and, for the
    /// built-in transforms, passed through unchanged).
    pub fn invalid_bytes(&self) -> u64 {
        self.invalid
    }

    /// Transforms the next chunk of the stream, appending to `out`.
    ///
    /// # Errors
    /// [`LineTooLong`] when a line goes past the maximum set by
    /// [`with_max_line`](Self::with_max_line). What came before that line has been transformed
    /// into `out`; the stream takes nothing more until [`finish`](Self::finish).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), LineTooLong> {
        if !self.overflowed {
            let allowed = self.within_max_line(input);
            self.decode(&input[..allowed], out);
            self.overflowed = allowed < input.len();
        }
        match self.max_line {
            Some(max) if self.overflowed => Err(LineTooLong { max }),
            _ => Ok(()),
        }
    }

    /// How many bytes of `input` keep the current line, and every line after it, within
    /// `max_line`.
    fn within_max_line(&mut self, input: &[u8]) -> usize {
        let Some(max) = self.max_line else {
            return input.len();
        };
        let mut at = 0;
        loop {
            let rest = &input[at..];
            let (len, ended) = match rest.iter().position(|&b| b == b'\n') {
                Some(lf) => (lf, true),
                None => (rest.len(), false),
            };
            if self.line_len + len > max {
                return at + (max - self.line_len);
            }
            if !ended {
                self.line_len += len;
                return input.len();
            }
            self.line_len = 0;
            at += len + 1;
        }
    }

    /// Hands the whole characters of `input` to the transform, and its invalid bytes to
    /// [`Transform::raw`].
    fn decode(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        // First complete the character the previous chunk cut off, one byte at a time: it is at
        // most three more bytes, and the test for "complete, still partial or invalid" is the same
        // as the one the whole-input decoder would make.
        while self.pending_len > 0 {
            let Some((&byte, rest)) = input.split_first() else {
                return;
            };
            let held = self.pending_len;
            self.pending[held] = byte;
            match std::str::from_utf8(&self.pending[..=held]) {
                Ok(text) => {
                    self.transform.text(text, out);
                    self.pending_len = 0;
                    input = rest;
                }
                Err(e) if e.error_len().is_none() => {
                    self.pending_len += 1;
                    input = rest;
                }
                // `byte` cannot continue the sequence: the held bytes are invalid on their own,
                // and `byte` starts afresh below.
                Err(_) => {
                    self.raw_pending(out);
                }
            }
        }

        // A SIMD validator: std's checks text outside ASCII a byte at a time, which cost as much
        // as the case mapping itself. Its errors are std's: each is one invalid sequence
        // (Unicode's "maximal subpart"), or a character cut off at the end of the chunk.
        loop {
            let error = match simdutf8::compat::from_utf8(input) {
                Ok(text) => {
                    if !text.is_empty() {
                        self.transform.text(text, out);
                    }
                    return;
                }
                Err(error) => error,
            };
            let (valid, rest) = input.split_at(error.valid_up_to());
            match simdutf8::basic::from_utf8(valid) {
                Ok(text) if !text.is_empty() => self.transform.text(text, out),
                Ok(_) => {}
                // Not reached (the validator just vouched for these bytes); were it reached,
                // the bytes would still be passed on, not lost.
                Err(_) => self.transform.raw(valid, out),
            }
            match error.error_len() {
                Some(len) => {
                    self.invalid += len as u64;
                    self.transform.raw(&rest[..len], out);
                    input = &rest[len..];
                }
                None => {
                    self.pending[..rest.len()].copy_from_slice(rest);
                    self.pending_len = rest.len();
                    return;
                }
            }
        }
    }

    /// Ends the stream, appending what is still owed: a character cut off by the end of the
    /// stream is passed to [`Transform::raw`], then the transform finishes. The transformer is
    /// then ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_len > 0 {
            self.raw_pending(out);
        }
        self.transform.finish(out);
        self.line_len = 0;
        self.overflowed = false;
    }

    /// Passes the held bytes of an unfinished character on as invalid.
    fn raw_pending(&mut self, out: &mut Vec<u8>) {
        self.invalid += self.pending_len as u64;
        self.transform.raw(&self.pending[..self.pending_len], out);
        self.pending_len = 0;
    }

    /// Transforms one datagram: its payload is a whole stream, so this is
    /// [`feed`](Self::feed) then [`finish`](Self::finish). A zero-length payload gives a
    /// zero-length reply for every built-in transform.
    ///
    /// # Errors
    /// [`LineTooLong`] as for [`feed`](Self::feed); then nothing is added to `out`, since a
    /// datagram has one reply or none, and the transformer is ready for the next datagram.
    pub fn datagram(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), LineTooLong> {
        let start = out.len();
        let fed = self.feed(payload, out);
        self.finish(out);
        if fed.is_err() {
            out.truncate(start);
        }
        fed
    }
}

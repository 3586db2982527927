//! [`Transformer`]: feeds a [`Transform`] from bytes cut at arbitrary places.

use crate::Transform;

/// Drives a [`Transform`] over a byte stream that arrives in chunks of any size.
///
/// Call [`feed`](Self::feed) with each chunk as it arrives and [`finish`](Self::finish) when the
/// stream ends; each call appends the output it can already give to a buffer you own. Output never
/// waits for a newline: a chunk's text is transformed as soon as its characters are whole. A UTF-8
/// sequence split between chunks is held (at most 3 bytes) and joined with the next chunk. Bytes
/// that are not valid UTF-8 reach [`Transform::raw`], which by default passes them through.
///
/// The output is the same however the input is cut, byte for byte.
#[derive(Debug, Clone)]
pub struct Transformer<X> {
    /// The transform, holding any state of its own (such as a line's count).
    transform: X,
    /// The start of a character whose remaining bytes have not arrived yet.
    pending: [u8; 4],
    /// How many bytes of `pending` are in use: 0 to 3.
    pending_len: usize,
}

impl<X: Transform> Transformer<X> {
    /// A transformer at the start of a stream.
    pub fn new(transform: X) -> Self {
        Self {
            transform,
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Transforms the next chunk of the stream, appending to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
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
                    self.transform.raw(&self.pending[..held], out);
                    self.pending_len = 0;
                }
            }
        }

        let mut chunks = input.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            if !chunk.valid().is_empty() {
                self.transform.text(chunk.valid(), out);
            }
            let invalid = chunk.invalid();
            if chunks.peek().is_none() && is_truncated(invalid) {
                self.pending[..invalid.len()].copy_from_slice(invalid);
                self.pending_len = invalid.len();
            } else if !invalid.is_empty() {
                self.transform.raw(invalid, out);
            }
        }
    }

    /// Ends the stream, appending what is still owed: a character cut off by the end of the
    /// stream is passed to [`Transform::raw`], then the transform finishes. The transformer is
    /// then ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_len > 0 {
            self.transform.raw(&self.pending[..self.pending_len], out);
            self.pending_len = 0;
        }
        self.transform.finish(out);
    }

    /// Transforms one datagram: its payload is a whole stream, so this is
    /// [`feed`](Self::feed) then [`finish`](Self::finish). A zero-length payload gives a
    /// zero-length reply for every built-in transform.
    pub fn datagram(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        self.feed(payload, out);
        self.finish(out);
    }
}

/// Whether `bytes` is the start of a valid UTF-8 sequence that was cut short.
fn is_truncated(bytes: &[u8]) -> bool {
    !bytes.is_empty() && std::str::from_utf8(bytes).is_err_and(|e| e.error_len().is_none())
}

//! [`Count`]: the textbook's suggested variation, a server that counts one character.

use crate::transform::Transform;

/// Counts how often one character occurs in each line.
///
/// Lines end with LF. Each line is answered with the decimal count and LF; a last line with no LF
/// is answered when the stream ends. The match is exact: `count=s` does not count `S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The character counted.
    target: char,
    /// Occurrences in the current line so far.
    seen: u64,
    /// Whether the current line has any byte yet, so that an empty last line gets no answer.
    open: bool,
}

impl Count {
    /// Counts `target`, which must not be LF (LF ends lines, so its count would always be 0).
    pub fn new(target: char) -> Option<Self> {
        (target != '\n').then_some(Self {
            target,
            seen: 0,
            open: false,
        })
    }

    /// The character counted.
    pub fn target(&self) -> char {
        self.target
    }

    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.seen.to_string().as_bytes());
        out.push(b'\n');
        self.seen = 0;
        self.open = false;
    }
}

impl Transform for Count {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        for c in text.chars() {
            if c == '\n' {
                self.end_line(out);
            } else {
                self.open = true;
                self.seen += u64::from(c == self.target);
            }
        }
    }

    fn raw(&mut self, _bytes: &[u8], _out: &mut Vec<u8>) {
        // Bytes that are not UTF-8 are never LF and never the target, but they do make a line.
        self.open = true;
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if self.open {
            self.end_line(out);
        }
    }

    fn answers_lines(&self) -> bool {
        true
    }
}

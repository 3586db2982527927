//! The requests the load generator sends, and how it checks the replies.
//!
//! A request is its sequence number in decimal, then lowercase letters. Digits survive any case
//! mapping, so a UDP reply says which request it answers; letters show whether the server
//! echoes or upper-cases. Told the server's transform (`--transform`), the generator holds each
//! reply to what that transform makes of its request; for one that answers lines (`count=C`),
//! each request is a line, its last byte LF, and its reply carries no number.

use upcase_proto::{Builtin, Transform, Transformer};

/// Digits of the sequence number at the start of every request.
pub(crate) const SEQ_DIGITS: usize = 10;

/// Appends the request numbered `seq` to `out`, without allocating once `out` has room.
pub(crate) fn append_request(seq: u64, size: usize, out: &mut Vec<u8>) {
    append(seq, size, LOWER, out);
}

/// Appends the request numbered `seq` as a line of `size` bytes, LF last: at least
/// [`SEQ_DIGITS`] + 1.
fn append_line(seq: u64, size: usize, out: &mut Vec<u8>) {
    append(seq, size.saturating_sub(1), LOWER, out);
    out.push(b'\n');
}

/// The alphabet written twice, in each case.
const LOWER: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8; 52] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Appends message `seq` with its letters from `alphabet`.
fn append(seq: u64, size: usize, alphabet: &[u8; 52], out: &mut Vec<u8>) {
    let mut digits = [b'0'; SEQ_DIGITS];
    let mut rest = seq % 10u64.pow(SEQ_DIGITS as u32);
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    // Letter `i` is `(seq + i) % 26`, so every 26 letters start again where the first did:
    // copied 26 at a time from the alphabet written twice, rather than made a byte at a time.
    let first = ((seq + SEQ_DIGITS as u64) % 26) as usize;
    let mut left = size.saturating_sub(SEQ_DIGITS);
    while left > 0 {
        let take = left.min(26);
        out.extend_from_slice(&alphabet[first..first + take]);
        left -= take;
    }
}

/// The sequence number a reply starts with, if it starts with one.
pub(crate) fn sequence(reply: &[u8]) -> Option<u64> {
    let digits = reply.get(..SEQ_DIGITS)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// What the server does to a request, learnt from its first reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Sends it back as it was.
    Echo,
    /// Sends it back in upper case.
    Upper,
}

/// What the generator holds the server's replies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ReplyCheck {
    /// Echo or upper case, whichever the first reply shows.
    #[default]
    Learn,
    /// What this built-in transform makes of each request (`--transform`).
    Told(Builtin),
}

impl ReplyCheck {
    /// The mode a reply is checked against byte for byte, where one serves: the requests are
    /// lowercase letters and digits, so `lower` answers them as `echo` does.
    fn mode(self) -> Option<Mode> {
        match self {
            ReplyCheck::Learn => None,
            ReplyCheck::Told(Builtin::Upper) => Some(Mode::Upper),
            ReplyCheck::Told(Builtin::Echo | Builtin::Lower) => Some(Mode::Echo),
            ReplyCheck::Told(Builtin::Count(_)) => None,
        }
    }

    /// Whether each request is a line, answered by a reply of its own length and no number.
    pub(crate) fn lines(self) -> bool {
        matches!(self, ReplyCheck::Told(transform) if transform.answers_lines())
    }
}

/// Makes the requests and checks the replies, holding the server to what it was told or
/// what its first reply showed.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    rule: ReplyCheck,
    /// Whether each request is a line: asked for every request and reply, so kept.
    lines: bool,
    mode: Option<Mode>,
    /// The reply a request should get, made afresh for each.
    expected: Vec<u8>,
    /// A request made again, for a transform to answer.
    request: Vec<u8>,
}

impl Checker {
    pub(crate) fn new(rule: ReplyCheck) -> Self {
        Self {
            rule,
            lines: rule.lines(),
            mode: rule.mode(),
            ..Self::default()
        }
    }

    /// Appends the request numbered `seq`, `size` bytes, to `out`.
    pub(crate) fn append_request(&self, seq: u64, size: usize, out: &mut Vec<u8>) {
        if self.lines {
            append_line(seq, size, out);
        } else {
            append_request(seq, size, out);
        }
    }

    /// Writes the request numbered `seq`, `size` bytes, into `out`.
    pub(crate) fn request(&self, seq: u64, size: usize, out: &mut Vec<u8>) {
        out.clear();
        self.append_request(seq, size, out);
    }

    /// How long the first reply in `replies` is, on a stream of requests of `size` bytes;
    /// `None` until it is all in. A line's reply ends at its LF; one with no LF within `size`
    /// bytes is taken as a reply of `size` bytes, to be found wrong.
    pub(crate) fn reply_len(&self, size: usize, replies: &[u8]) -> Option<usize> {
        if self.lines
            && let Some(at) = replies.iter().take(size).position(|&byte| byte == b'\n')
        {
            return Some(at + 1);
        }
        (replies.len() >= size).then_some(size)
    }

    /// Whether a datagram's reply carries the number of the request it answers: a line's
    /// reply does not, and answers the oldest request waiting.
    pub(crate) fn numbered(&self) -> bool {
        !self.lines
    }

    /// Whether `reply` answers request `seq` of `size` bytes.
    pub(crate) fn check(&mut self, seq: u64, size: usize, reply: &[u8]) -> bool {
        match (self.mode, self.rule) {
            (Some(mode), _) => reply.len() == size && self.fits(mode, seq, reply),
            (None, ReplyCheck::Told(transform)) => self.transformed(transform, seq, size) == reply,
            (None, ReplyCheck::Learn) => {
                self.mode = [Mode::Upper, Mode::Echo]
                    .into_iter()
                    .find(|&mode| reply.len() == size && self.fits(mode, seq, reply));
                self.mode.is_some()
            }
        }
    }

    fn fits(&mut self, mode: Mode, seq: u64, reply: &[u8]) -> bool {
        let alphabet = match mode {
            Mode::Echo => LOWER,
            Mode::Upper => UPPER,
        };
        self.expected.clear();
        append(seq, reply.len(), alphabet, &mut self.expected);
        self.expected == reply
    }

    /// What `transform` makes of request `seq`, through the server's own code.
    fn transformed(&mut self, transform: Builtin, seq: u64, size: usize) -> &[u8] {
        let mut request = std::mem::take(&mut self.request);
        self.request(seq, size, &mut request);
        self.expected.clear();
        let mut stream = Transformer::new(transform);
        // No line limit is set, so no line is too long.
        let _ = stream.feed(&request, &mut self.expected);
        stream.finish(&mut self.expected);
        self.request = request;
        &self.expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(seq: u64, size: usize, out: &mut Vec<u8>) {
        Checker::default().request(seq, size, out);
    }

    #[test]
    fn letters_run_on_from_the_number() {
        let mut out = Vec::new();
        for seq in [0, 1, 25, 26, 12_345] {
            request(seq, 100, &mut out);
            for (i, &byte) in out.iter().enumerate().skip(SEQ_DIGITS) {
                assert_eq!(byte, b'a' + ((seq as usize + i) % 26) as u8, "{seq} at {i}");
            }
        }
    }

    #[test]
    fn requests_carry_their_number() {
        let mut out = Vec::new();
        request(42, 16, &mut out);
        assert_eq!(out, b"0000000042abcdef");
        assert_eq!(sequence(&out), Some(42));
        assert_eq!(sequence(&out.to_ascii_uppercase()), Some(42));
        assert_eq!(sequence(b"nope"), None);
        request(7, 10, &mut out);
        assert_eq!(out, b"0000000007");
        request(12_345_678_901, 12, &mut out);
        assert_eq!(out, b"2345678901hi", "the number wraps at ten digits");
        append_request(1, 11, &mut out);
        assert_eq!(out, b"2345678901hi0000000001l");
    }

    #[test]
    fn the_first_reply_decides_echo_or_upper() {
        let mut out = Vec::new();
        request(1, 20, &mut out);
        let mut upper = Checker::default();
        assert!(upper.check(1, 20, &out.to_ascii_uppercase()));
        assert!(
            !upper.check(1, 20, &out),
            "an echo after upper-case replies is wrong"
        );
        let mut echo = Checker::default();
        assert!(echo.check(1, 20, &out));
        assert!(!echo.check(1, 20, &out.to_ascii_uppercase()));
        assert!(!echo.check(2, 20, &out), "another request's reply");
        let mut wrong = Checker::default();
        assert!(!wrong.check(1, 20, b"something else entirely"));
        assert!(!wrong.check(1, 20, &out[..5]));
        assert!(!wrong.check(1, 20, &out[..19]));
    }

    fn told(name: &str) -> Checker {
        Checker::new(ReplyCheck::Told(name.parse().expect("a built-in")))
    }

    #[test]
    fn told_a_transform_each_reply_is_held_to_it_alone() {
        let mut out = Vec::new();
        request(1, 20, &mut out);
        let mut upper = told("upper");
        assert!(!upper.check(1, 20, &out), "an echo, first or not, is wrong");
        assert!(upper.check(1, 20, &out.to_ascii_uppercase()));
        // The requests are lowercase: `lower` answers them unchanged.
        let mut lower = told("lower");
        assert!(lower.check(1, 20, &out));
        assert!(!lower.check(1, 20, &out.to_ascii_uppercase()));
    }

    #[test]
    fn a_transform_of_lines_gets_requests_that_are_lines_and_counts_checked() {
        let mut count = told("count=b");
        let mut line = Vec::new();
        count.request(0, 40, &mut line);
        // Letters from `k` (the number's 10 digits first): `b` once in 29 letters.
        assert_eq!(line, b"0000000000klmnopqrstuvwxyzabcdefghijklm\n");
        assert!(count.check(0, 40, b"1\n"));
        assert!(!count.check(0, 40, b"2\n"), "another count");
        assert!(!count.check(0, 40, b"1"), "no end of line");
        assert!(!count.check(0, 40, &line), "an echo");
        // 26 × 4 letters hold `b` four times, wherever they start.
        count.request(7, 10 + 104 + 1, &mut line);
        assert_eq!(line.len(), 115);
        assert!(count.check(7, 115, b"4\n"));
        assert!(!count.numbered(), "a count carries no request's number");
        assert!(told("upper").numbered() && Checker::default().numbered());
    }

    #[test]
    fn a_stream_of_replies_is_cut_where_each_ends() {
        let count = told("count=s");
        assert_eq!(count.reply_len(64, b"12\n3\n"), Some(3));
        assert_eq!(count.reply_len(64, b"12"), None, "not all in");
        assert_eq!(
            count.reply_len(4, b"12345\n"),
            Some(4),
            "no LF within a request's size"
        );
        let echo = Checker::default();
        assert_eq!(echo.reply_len(4, b"abc\nef"), Some(4), "a size, LF or not");
        assert_eq!(echo.reply_len(4, b"abc"), None);
    }
}

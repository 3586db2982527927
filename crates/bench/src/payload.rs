//! The requests the load generator sends, and how it checks the replies.
//!
//! A request is its sequence number in decimal, then lowercase letters. Digits survive any case
//! mapping, so a UDP reply says which request it answers; letters show whether the server
//! echoes or upper-cases.

/// Digits of the sequence number at the start of every request.
pub(crate) const SEQ_DIGITS: usize = 10;

/// Writes the request numbered `seq` into `out`: `size` bytes, at least [`SEQ_DIGITS`].
pub(crate) fn request(seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    append_request(seq, size, out);
}

/// Appends the request numbered `seq` to `out`, without allocating once `out` has room.
pub(crate) fn append_request(seq: u64, size: usize, out: &mut Vec<u8>) {
    append(seq, size, LOWER, out);
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

/// Checks replies against their requests, holding the server to what its first reply showed.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    mode: Option<Mode>,
    /// The reply a request should get, made afresh for each.
    expected: Vec<u8>,
}

impl Checker {
    /// Whether `reply` answers request `seq` of `size` bytes.
    pub(crate) fn check(&mut self, seq: u64, size: usize, reply: &[u8]) -> bool {
        if reply.len() != size {
            return false;
        }
        if let Some(mode) = self.mode {
            return self.fits(mode, seq, reply);
        }
        self.mode = [Mode::Upper, Mode::Echo]
            .into_iter()
            .find(|&mode| self.fits(mode, seq, reply));
        self.mode.is_some()
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

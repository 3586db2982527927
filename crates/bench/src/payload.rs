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
    let mut digits = [b'0'; SEQ_DIGITS];
    let mut rest = seq % 10u64.pow(SEQ_DIGITS as u32);
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.extend((SEQ_DIGITS..size).map(|i| b'a' + ((seq as usize + i) % 26) as u8));
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
}

impl Checker {
    /// Whether `reply` answers `request`.
    pub(crate) fn check(&mut self, request: &[u8], reply: &[u8]) -> bool {
        if request.len() != reply.len() {
            return false;
        }
        let fits = |mode| match mode {
            Mode::Echo => request == reply,
            Mode::Upper => request
                .iter()
                .zip(reply)
                .all(|(q, r)| q.to_ascii_uppercase() == *r),
        };
        match self.mode {
            Some(mode) => fits(mode),
            None => {
                self.mode = [Mode::Upper, Mode::Echo]
                    .into_iter()
                    .find(|&mode| fits(mode));
                self.mode.is_some()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(upper.check(&out, &out.to_ascii_uppercase()));
        assert!(
            !upper.check(&out, &out),
            "an echo after upper-case replies is wrong"
        );
        let mut echo = Checker::default();
        assert!(echo.check(&out, &out));
        assert!(!echo.check(&out, &out.to_ascii_uppercase()));
        let mut wrong = Checker::default();
        assert!(!wrong.check(&out, b"something else entirely"));
        assert!(!wrong.check(&out, &out[..5]));
    }
}

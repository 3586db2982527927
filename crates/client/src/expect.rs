//! [`Expect`]: what a probe's reply should be, so that `--count` can tell a wrong reply from a
//! right one, as ping(8) checks the data of each echo reply.
//!
//! A server of the protocol answers a message with its upper case, or, as an RFC 862 echo
//! does, with the message itself; as `upcase bench` does, the first reply that is either one
//! says which the server is, and every later reply is held to it.

use upcase_proto::{Builtin, Transformer};

/// What the replies to one message should be, learnt from the first right one.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    /// The message in upper case, as the textbook's server answers it.
    upper: Vec<u8>,
    /// The message itself, as an echo service answers it.
    echo: Vec<u8>,
    /// What the server has shown itself to be; `None` until a reply tells them apart.
    server: Option<Server>,
}

/// What the server does to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Upper,
    Echo,
}

impl Expect {
    pub(crate) fn new(message: &[u8]) -> Self {
        let mut upper = Vec::with_capacity(message.len());
        let mut stream = Transformer::new(Builtin::Upper);
        // Upper case answers no lines, so it has no line limit to pass.
        let _ = stream.feed(message, &mut upper);
        stream.finish(&mut upper);
        Self {
            upper,
            echo: message.to_vec(),
            server: None,
        }
    }

    /// `None` if `reply` is right; otherwise how it is wrong, as ping(8) says it.
    pub(crate) fn check(&mut self, reply: &[u8]) -> Option<String> {
        let upper_ok = self.server != Some(Server::Echo) && reply == self.upper.as_slice();
        let echo_ok = self.server != Some(Server::Upper) && reply == self.echo.as_slice();
        if upper_ok || echo_ok {
            if self.upper != self.echo {
                self.server = Some(if upper_ok {
                    Server::Upper
                } else {
                    Server::Echo
                });
            }
            return None;
        }
        let should = match self.server {
            Some(Server::Echo) => &self.echo,
            _ => &self.upper,
        };
        Some(difference(should, reply))
    }
}

/// How `reply` differs from what it `should` be: its first wrong byte, or its length.
fn difference(should: &[u8], reply: &[u8]) -> String {
    match should.iter().zip(reply).position(|(a, b)| a != b) {
        Some(at) => format!(
            "wrong data byte #{at} should be 0x{:02x} but was 0x{:02x}",
            should[at], reply[at]
        ),
        None => format!(
            "wrong data length: {} bytes, should be {}",
            reply.len(),
            should.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_or_echo_is_right_and_the_first_decides() {
        let mut upper = Expect::new(b"ping");
        assert_eq!(upper.check(b"PING"), None);
        assert_eq!(
            upper.check(b"ping").as_deref(),
            Some("wrong data byte #0 should be 0x50 but was 0x70"),
            "held to upper case once it answered so"
        );
        let mut echo = Expect::new(b"ping");
        assert_eq!(echo.check(b"ping"), None);
        assert!(echo.check(b"PING").is_some());
        let mut same = Expect::new(b"PING 1");
        assert_eq!(same.check(b"PING 1"), None);
        assert_eq!(
            same.check(b"PING 1"),
            None,
            "no telling them apart: both fine"
        );
        assert_eq!(
            Expect::new("straße".as_bytes()).check("STRASSE".as_bytes()),
            None
        );
    }

    #[test]
    fn a_wrong_reply_is_said_as_ping_says_it() {
        let mut expect = Expect::new(b"ping");
        assert_eq!(
            expect.check(b"SSH-2.0-OpenSSH_9.2\r\n").as_deref(),
            Some("wrong data byte #0 should be 0x50 but was 0x53")
        );
        assert_eq!(
            expect.check(b"PIN").as_deref(),
            Some("wrong data length: 3 bytes, should be 4")
        );
    }
}

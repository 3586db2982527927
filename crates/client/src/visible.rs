//! What a server sends, made safe to show on a terminal.
//!
//! A reply is the server's to choose, and a terminal acts on the control sequences in what it
//! is shown: a hostile server could clear the screen, retitle the window, write the clipboard
//! (OSC 52) or forge what seems to be the user's own prompt (the class of Git's
//! CVE-2024-52005; OpenSSH likewise shows what servers send only after sanitising it). So on a
//! terminal every control character but newline and tab is shown as `cat -v` shows it: `^[` for
//! ESC, `^M` for a carriage return, `^?` for DEL, `M-^[` for the C1 CSI (U+009B, or a lone
//! 0x9b byte), and `M-` before any other byte that is not UTF-8. Printable text, in any script,
//! passes as it is. Output that is not a terminal stays byte-exact, and `--raw` passes
//! everything through on a terminal too.

/// Appends `bytes` to `out` with every control character shown visibly. A UTF-8 sequence cut
/// off at the end of `bytes` is shown byte by byte: see [`Visible`] for a stream of chunks.
pub(crate) fn visible(bytes: &[u8], out: &mut Vec<u8>) {
    let mut stream = Visible::default();
    stream.feed(bytes, out);
    stream.finish(out);
}

/// [`visible`] over a stream of chunks, which may cut a UTF-8 sequence anywhere.
#[derive(Debug, Default)]
pub(crate) struct Visible {
    /// The start of a UTF-8 sequence that the last chunk cut off.
    held: Vec<u8>,
}

impl Visible {
    /// Appends the visible form of `chunk`, holding back a UTF-8 sequence it cuts off.
    pub(crate) fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let joined;
        let bytes = if self.held.is_empty() {
            chunk
        } else {
            let mut held = std::mem::take(&mut self.held);
            held.extend_from_slice(chunk);
            joined = held;
            &joined
        };
        let mut rest = bytes;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    show_text(text, out);
                    return;
                }
                Err(error) => {
                    let (good, bad) = rest.split_at(error.valid_up_to());
                    // Valid UTF-8 by the check just made.
                    show_text(std::str::from_utf8(good).unwrap_or_default(), out);
                    match error.error_len() {
                        Some(len) => {
                            for &byte in &bad[..len] {
                                show_byte(byte, out);
                            }
                            rest = &bad[len..];
                        }
                        None => {
                            // Cut off by the end of the chunk: the next one may complete it.
                            self.held.extend_from_slice(bad);
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Shows what is still held, byte by byte: the stream ended inside a sequence.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        for byte in std::mem::take(&mut self.held) {
            show_byte(byte, out);
        }
    }
}

/// Appends `text`, its control characters (C0 but tab and newline, DEL, C1) shown visibly.
fn show_text(text: &str, out: &mut Vec<u8>) {
    if !text.chars().any(is_hidden) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for c in text.chars() {
        if is_hidden(c) {
            // C0, DEL and C1 are all below U+00A0: one byte's worth.
            show_byte(c as u32 as u8, out);
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

fn is_hidden(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Appends one byte as `cat -v` shows it.
fn show_byte(byte: u8, out: &mut Vec<u8>) {
    let low = if byte >= 0x80 {
        out.extend_from_slice(b"M-");
        byte & 0x7f
    } else {
        byte
    };
    match low {
        0x7f => out.extend_from_slice(b"^?"),
        b'\n' | b'\t' if byte < 0x80 => out.push(low),
        0x00..=0x1f => out.extend_from_slice(&[b'^', low + 0x40]),
        _ => out.push(low),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(bytes: &[u8]) -> String {
        let mut out = Vec::new();
        visible(bytes, &mut out);
        String::from_utf8(out).expect("visible output is UTF-8")
    }

    #[test]
    fn control_sequences_are_shown_as_cat_v_shows_them() {
        assert_eq!(shown(b"\x1b[2J"), "^[[2J");
        assert_eq!(shown(b"\x1b]52;c;aGVsbG8=\x07"), "^[]52;c;aGVsbG8=^G");
        assert_eq!(shown(b"\x1b]0;title\x07"), "^[]0;title^G");
        assert_eq!(shown(b"a\rb\x7f"), "a^Mb^?");
        assert_eq!(shown(b"\x9b31m"), "M-^[31m", "a raw C1 CSI byte");
        assert_eq!(shown("\u{9b}31m".as_bytes()), "M-^[31m", "C1 CSI as UTF-8");
        assert_eq!(shown(b"\xe9t\xe9"), "M-itM-i", "Latin-1 bytes");
        assert_eq!(shown(b"\xff"), "M-^?");
    }

    #[test]
    fn text_newlines_and_tabs_pass_unchanged() {
        for text in ["HELLO WORLD\n", "STRASSE\tΐ ΪΣ 日本\n", ""] {
            assert_eq!(shown(text.as_bytes()), text);
        }
    }

    #[test]
    fn any_chunking_shows_the_same() {
        let reply = "ΐ\u{9b}x\x1b[1m日本\u{7f}é".as_bytes();
        let whole = shown(reply);
        for cut in 0..=reply.len() {
            let mut stream = Visible::default();
            let mut out = Vec::new();
            stream.feed(&reply[..cut], &mut out);
            stream.feed(&reply[cut..], &mut out);
            stream.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).expect("UTF-8"),
                whole,
                "cut at {cut}"
            );
        }
        let mut stream = Visible::default();
        let mut out = Vec::new();
        stream.feed(&"日".as_bytes()[..2], &mut out);
        stream.finish(&mut out);
        assert_eq!(
            out, b"M-fM-^W",
            "a sequence cut off by the end, byte by byte"
        );
    }
}

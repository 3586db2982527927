//! ROT13 as a [`Transform`]: the rot13 server example's transform, in a file of its own so that
//! the tests can hold it to the growth bound every transform keeps to.

use upcase_proto::Transform;

/// Rotates ASCII letters by 13 places; everything else, Unicode included, passes unchanged.
/// A character transform needs no state: each piece of text maps on its own.
#[derive(Debug, Clone, Copy)]
pub struct Rot13;

impl Transform for Rot13 {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        out.extend(text.bytes().map(|b| match b {
            b'a'..=b'z' => b'a' + (b - b'a' + 13) % 26,
            b'A'..=b'Z' => b'A' + (b - b'A' + 13) % 26,
            _ => b,
        }));
    }
}

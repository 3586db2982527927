//! Unicode case mapping: [`Upper`] and [`Lower`].
//!
//! Both use Unicode's full mappings, one character at a time, so a reply may be longer than its
//! request (`ß` becomes `SS`, `ΐ` becomes three characters). Runs of ASCII, the common case, take a
//! byte-wise path.

use crate::Transform;

/// Upper case by Unicode's full case mapping: `straße` becomes `STRASSE`. The default transform.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upper;

/// Lower case by Unicode's full case mapping.
///
/// Each character is mapped on its own, so `Σ` always becomes `σ`: the final-sigma rule of
/// `str::to_lowercase` looks at the next character, which on a stream may not have arrived yet,
/// and the output must not depend on how the stream was cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lower;

impl Transform for Upper {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        map_case(text, out, u8::to_ascii_uppercase, char::to_uppercase);
    }
}

impl Transform for Lower {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        map_case(text, out, u8::to_ascii_lowercase, char::to_lowercase);
    }
}

/// Appends `text` mapped by `ascii` on ASCII bytes and by `full` on every other character.
fn map_case<I>(text: &str, out: &mut Vec<u8>, ascii: fn(&u8) -> u8, full: fn(char) -> I)
where
    I: Iterator<Item = char>,
{
    out.reserve(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let ascii_len = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(ascii_len);
        out.extend(run.as_bytes().iter().map(ascii));
        let mut chars = tail.chars();
        if let Some(c) = chars.next() {
            let mut utf8 = [0; 4];
            for mapped in full(c) {
                out.extend_from_slice(mapped.encode_utf8(&mut utf8).as_bytes());
            }
        }
        rest = chars.as_str();
    }
}

//! Unicode case mapping: [`Upper`] and [`Lower`].
//!
//! Both use Unicode's full mappings, one character at a time, so a reply may be longer than its
//! request (`ß` becomes `SS`, `ΐ` becomes three characters). The mappings are std's; two fast
//! paths serve the common cases: runs of ASCII are mapped a block at a time, and characters of
//! two UTF-8 bytes (U+0080 to U+07FF: accented Latin, Greek, Cyrillic, Armenian, Hebrew,
//! Arabic...) are looked up, already encoded, in a table built once from std's mapping.

use std::sync::OnceLock;

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
        static TWO_BYTE: OnceLock<TwoByteTable> = OnceLock::new();
        let table = TWO_BYTE.get_or_init(|| TwoByteTable::new(char::to_uppercase));
        map_case(
            text,
            out,
            <[u8]>::make_ascii_uppercase,
            char::to_uppercase,
            table,
        );
    }
}

impl Transform for Lower {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        static TWO_BYTE: OnceLock<TwoByteTable> = OnceLock::new();
        let table = TWO_BYTE.get_or_init(|| TwoByteTable::new(char::to_lowercase));
        map_case(
            text,
            out,
            <[u8]>::make_ascii_lowercase,
            char::to_lowercase,
            table,
        );
    }
}

/// The mapping of every character that UTF-8 encodes in two bytes, as UTF-8: entry
/// `(lead & 0x1F) << 6 | (continuation & 0x3F)` holds its length, then its bytes.
struct TwoByteTable(Box<[[u8; 8]]>);

/// The length of an entry whose mapping is too long to hold (none is, as of Unicode 16).
const TOO_LONG: u8 = u8::MAX;

impl TwoByteTable {
    fn new<I: Iterator<Item = char>>(full: fn(char) -> I) -> Self {
        let entries = (0..0x800)
            .map(|code| {
                let mut entry = [0; 8];
                let Some(c) = char::from_u32(code).filter(|_| code >= 0x80) else {
                    return entry; // Below U+0080: never looked up.
                };
                let mapped: String = full(c).collect();
                match u8::try_from(mapped.len()) {
                    Ok(len) if mapped.len() < entry.len() => {
                        entry[0] = len;
                        entry[1..=mapped.len()].copy_from_slice(mapped.as_bytes());
                    }
                    _ => entry[0] = TOO_LONG,
                }
                entry
            })
            .collect();
        Self(entries)
    }
}

/// Appends `text` mapped by `ascii` on runs of ASCII, by `table` on two-byte characters and by
/// `full` on the others.
fn map_case<I>(
    text: &str,
    out: &mut Vec<u8>,
    ascii: fn(&mut [u8]),
    full: fn(char) -> I,
    table: &TwoByteTable,
) where
    I: Iterator<Item = char>,
{
    out.reserve(text.len());
    if text.is_ascii() {
        // Copy, then map in place: both are simple loops over bytes that the compiler
        // vectorises, which a byte-at-a-time map into the vector is not.
        let start = out.len();
        out.extend_from_slice(text.as_bytes());
        ascii(&mut out[start..]);
        return;
    }
    let bytes = text.as_bytes();
    let mut at = 0;
    while let Some(&lead) = bytes.get(at) {
        if lead.is_ascii() {
            // Text in other scripts has short ASCII runs (a space, a comma), for which
            // measuring the run costs more than mapping it: measure only from 8 bytes on.
            let short = bytes[at..]
                .iter()
                .take(8)
                .take_while(|b| b.is_ascii())
                .count();
            let run = if short < 8 {
                short
            } else {
                ascii_prefix(&bytes[at..])
            };
            let start = out.len();
            out.extend_from_slice(&bytes[at..at + run]);
            ascii(&mut out[start..]);
            at += run;
            continue;
        }
        // `text` is valid UTF-8, so a lead byte below 0xE0 starts a two-byte character.
        if lead < 0xE0
            && let Some(&next) = bytes.get(at + 1)
        {
            let entry = &table.0[usize::from(lead & 0x1F) << 6 | usize::from(next & 0x3F)];
            match entry[0] {
                TOO_LONG => {} // std's mapping, below
                // Most map to another two-byte character: a copy of known size is cheapest.
                2 => {
                    out.extend_from_slice(&[entry[1], entry[2]]);
                    at += 2;
                    continue;
                }
                len => {
                    out.extend_from_slice(&entry[1..=usize::from(len)]);
                    at += 2;
                    continue;
                }
            }
        }
        let mut chars = text[at..].chars();
        if let Some(c) = chars.next() {
            let mut utf8 = [0; 4];
            for mapped in full(c) {
                out.extend_from_slice(mapped.encode_utf8(&mut utf8).as_bytes());
            }
            at += c.len_utf8();
        }
    }
}

/// How many bytes at the start of `bytes` are ASCII, checked a block at a time.
fn ascii_prefix(bytes: &[u8]) -> usize {
    const BLOCK: usize = 32;
    let whole = bytes
        .chunks_exact(BLOCK)
        .take_while(|block| block.is_ascii())
        .count()
        * BLOCK;
    whole + bytes[whole..].iter().take_while(|b| b.is_ascii()).count()
}

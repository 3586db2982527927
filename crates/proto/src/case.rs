//! Unicode case mapping: [`Upper`] and [`Lower`].
//!
//! Both use Unicode's full mappings, one character at a time, so a reply may be longer than its
//! request (`ß` becomes `SS`, `ΐ` becomes three characters). The mappings are std's; two fast
//! paths serve the common cases: runs of ASCII are mapped a block at a time, and characters of
//! two UTF-8 bytes (U+0080 to U+07FF: accented Latin, Greek, Cyrillic, Armenian, Hebrew,
//! Arabic...) are looked up, already encoded, in a table built once from std's mapping.

use std::sync::OnceLock;

use crate::growth::MAX_GROWTH;
use crate::transform::Transform;

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
        if text.is_ascii() {
            return map_ascii(text.as_bytes(), out, upper_ascii);
        }
        static TWO_BYTE: OnceLock<TwoByteTable> = OnceLock::new();
        let table = TWO_BYTE.get_or_init(|| TwoByteTable::new(char::to_uppercase));
        map_case(
            text,
            out,
            (upper_ascii, |b: u8| b.to_ascii_uppercase()),
            char::to_uppercase,
            table,
        );
    }
}

impl Transform for Lower {
    fn text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_ascii() {
            return map_ascii(text.as_bytes(), out, lower_ascii);
        }
        static TWO_BYTE: OnceLock<TwoByteTable> = OnceLock::new();
        let table = TWO_BYTE.get_or_init(|| TwoByteTable::new(char::to_lowercase));
        map_case(
            text,
            out,
            (lower_ascii, |b: u8| b.to_ascii_lowercase()),
            char::to_lowercase,
            table,
        );
    }
}

/// The mapping of every character that UTF-8 encodes in two bytes, as UTF-8: entry
/// `(lead & 0x1F) << 6 | (continuation & 0x3F)` holds its length, then its bytes.
struct TwoByteTable(Box<[[u8; 8]; 0x800]>);

/// The length of an entry whose mapping is too long to hold (none is, as of Unicode 16).
const TOO_LONG: u8 = u8::MAX;

impl TwoByteTable {
    fn new<I: Iterator<Item = char>>(full: fn(char) -> I) -> Self {
        // A fixed-size table: its index, 11 bits wide, is then in bounds without a check.
        let mut entries = Box::new([[0; 8]; 0x800]);
        // Below U+0080 entries stay empty: ASCII is never looked up.
        for (code, entry) in (0x80..).zip(&mut entries[0x80..]) {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let mapped: String = full(c).collect();
            match u8::try_from(mapped.len()) {
                Ok(len) if mapped.len() < entry.len() => {
                    entry[0] = len;
                    entry[1..=mapped.len()].copy_from_slice(mapped.as_bytes());
                }
                _ => entry[0] = TOO_LONG,
            }
        }
        Self(entries)
    }
}

/// Appends ASCII `text` mapped by `ascii`: a copy, then a map in place, both simple loops over
/// bytes that the compiler vectorises, which a byte-at-a-time map into the vector is not.
/// Kept out of line: inlined into its callers, the loop is not vectorised the same way (the
/// figures are in docs/BENCHMARKS.md, "Transform speed").
#[inline(never)]
fn map_ascii(text: &[u8], out: &mut Vec<u8>, ascii: fn(&mut [u8])) {
    let start = out.len();
    out.extend_from_slice(text);
    ascii(&mut out[start..]);
}

/// `<[u8]>::make_ascii_uppercase` as a loop that the compiler vectorises, which std's indexed
/// loop is not (docs/BENCHMARKS.md, "Transform speed", has the figures).
fn upper_ascii(bytes: &mut [u8]) {
    for b in bytes {
        *b ^= u8::from(b.is_ascii_lowercase()) << 5;
    }
}

/// `<[u8]>::make_ascii_lowercase`, vectorised as [`upper_ascii`] is.
fn lower_ascii(bytes: &mut [u8]) {
    for b in bytes {
        *b |= u8::from(b.is_ascii_uppercase()) << 5;
    }
}

/// Slack at the end of the output, so that a two-byte character's mapping can be copied as a
/// whole table entry, whatever its length, without a branch.
const SLACK: usize = 8;

/// Appends `text` mapped by `ascii` on runs of ASCII, by `table` on two-byte characters and by
/// `full` on the others.
/// `ascii_byte` is `ascii` for one byte, generic so that it is inlined in the per-byte loop;
/// `ascii` is called on whole runs.
fn map_case<I: Iterator<Item = char>>(
    text: &str,
    out: &mut Vec<u8>,
    (ascii, ascii_byte): (fn(&mut [u8]), impl Fn(u8) -> u8),
    full: impl Fn(char) -> I,
    table: &TwoByteTable,
) {
    let start = out.len();
    // Writing into a slice sized for the worst case, then trimming, spares every character a
    // capacity check; the zeroing costs less than those checks.
    out.resize(start + MAX_GROWTH * text.len() + SLACK, 0);
    let written = map_into(text, &mut out[start..], (ascii, ascii_byte), full, table);
    out.truncate(start + written);
}

/// [`map_case`] into `dst`, which has room for the worst case and [`SLACK`]; returns how many
/// bytes it wrote.
fn map_into<I: Iterator<Item = char>>(
    text: &str,
    dst: &mut [u8],
    (ascii, ascii_byte): (fn(&mut [u8]), impl Fn(u8) -> u8),
    full: impl Fn(char) -> I,
    table: &TwoByteTable,
) -> usize {
    let bytes = text.as_bytes();
    let (mut at, mut o) = (0, 0);
    // ASCII bytes in a row so far: text in other scripts has short ASCII runs (a space, a
    // comma), mapped a byte at a time; a run that gets long is mapped a block at a time.
    let mut ascii_run = 0;
    while let Some(&lead) = bytes.get(at) {
        if lead.is_ascii() {
            ascii_run += 1;
            if ascii_run > 8 {
                let run = ascii_prefix(&bytes[at..]);
                dst[o..o + run].copy_from_slice(&bytes[at..at + run]);
                ascii(&mut dst[o..o + run]);
                at += run;
                o += run;
                ascii_run = 0;
            } else {
                dst[o] = ascii_byte(lead);
                at += 1;
                o += 1;
            }
            continue;
        }
        ascii_run = 0;
        // The input is valid UTF-8, so a lead byte below 0xE0 starts a two-byte character.
        if lead < 0xE0
            && let Some(&next) = bytes.get(at + 1)
        {
            let entry = &table.0[usize::from(lead & 0x1F) << 6 | usize::from(next & 0x3F)];
            if entry[0] != TOO_LONG {
                // The whole entry, whatever the mapping's length: one fixed-size copy.
                dst[o..o + 7].copy_from_slice(&entry[1..]);
                at += 2;
                o += usize::from(entry[0]);
                continue;
            }
        }
        // `at` is always at a character boundary: every branch above steps over whole ones.
        let Some(c) = text.get(at..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        for mapped in full(c) {
            o += mapped.encode_utf8(&mut dst[o..]).len();
        }
        at += c.len_utf8();
    }
    o
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_loops_map_every_byte_as_std_does() {
        let every: Vec<u8> = (0..=u8::MAX).collect();
        let (mut upper, mut lower) = (every.clone(), every.clone());
        upper_ascii(&mut upper);
        lower_ascii(&mut lower);
        assert_eq!(upper, every.to_ascii_uppercase());
        assert_eq!(lower, every.to_ascii_lowercase());
    }

    /// `map_case` sizes its output by this bound: a character that grew more would overrun it.
    #[test]
    fn no_character_grows_more_than_max_growth() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            for mapped in [
                c.to_uppercase().map(char::len_utf8).sum::<usize>(),
                c.to_lowercase().map(char::len_utf8).sum::<usize>(),
            ] {
                assert!(
                    mapped <= MAX_GROWTH * c.len_utf8(),
                    "{c:?} grows to {mapped} bytes"
                );
            }
        }
    }
}

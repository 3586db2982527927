//! [`describe`]: an I/O error in the plain words of a sentence.

use std::io;

/// An I/O error in plain words: the operating system's message without its " (os error N)"
/// suffix, lower-cased to sit inside a sentence ("connection refused").
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    let Some(code) = error.raw_os_error() else {
        return text;
    };
    let text = text
        .strip_suffix(&format!(" (os error {code})"))
        .unwrap_or(&text);
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

//! How a line of input becomes a message, and a reply becomes a line of output.
//!
//! Line-oriented clients (a prompt, or lines sent as datagrams) send each line without its line
//! feed, as the textbook's clients do, and print each reply on a line of its own.

/// The message for one line: the line without its final LF, if it has one. A CR before the LF
/// is kept, so that nothing but the framing is lost.
pub fn line_message(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// Appends `reply` to `out` as one line: with a final LF unless it already ends with one (as the
/// replies of line transforms such as `count=C` do).
pub fn reply_line(reply: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(reply);
    if !reply.ends_with(b"\n") {
        out.push(b'\n');
    }
}

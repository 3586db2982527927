//! Reading a file an operator names (a config file, a certificate, a key) so that nothing it
//! names can block a server or take its memory: a FIFO, a device such as `/dev/zero`, a
//! directory, a link to one of them, a file of gigabytes. Such files are read again at SIGHUP,
//! on the loop that answers signals, which must never wait on one.

use std::path::Path;

/// Why an operator's file was not read.
#[derive(Debug)]
pub enum FileProblem {
    /// The file could not be opened or read.
    Read(std::io::Error),
    /// The path names something that is not a regular file, or a file too large: what it is
    /// instead, in words.
    NotAFile(String),
}

/// The bytes of the file at `path`, read so that nothing an operator can name blocks or
/// exhausts the reader: opened without waiting (a FIFO with no writer would hang the open),
/// then refused unless the open file is a regular one (not a FIFO, a device such as
/// `/dev/zero`, or a directory, through a link or not) of at most `max` bytes, and read no
/// further than that even if it grows meanwhile. `kind` names the file in the refusal: `a
/// config file` says "more than a config file's 1048576".
///
/// # Errors
/// [`FileProblem`], as above.
pub fn read_operator_file(path: &Path, max: u64, kind: &str) -> Result<Vec<u8>, FileProblem> {
    use std::io::Read;
    let failed = FileProblem::Read;
    let not_a_file = FileProblem::NotAFile;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    if !meta.is_file() {
        return Err(not_a_file(format!(
            "not a regular file but {}",
            what_it_is(&meta)
        )));
    }
    if meta.len() > max {
        return Err(not_a_file(format!(
            "{} bytes, more than {kind}'s {max}",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(failed)?;
    if bytes.len() as u64 > max {
        return Err(not_a_file(format!(
            "grew past {kind}'s {max} bytes while read"
        )));
    }
    Ok(bytes)
}

/// What a path that is not a regular file names, for the error.
fn what_it_is(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

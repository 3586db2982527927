//! Reading a file an operator names (`--config`) so that nothing it names can block the
//! server or take its memory: a FIFO, a device such as `/dev/zero`, a directory, a link to one
//! of them, a file of gigabytes.

use std::path::Path;

use crate::ConfigError;

/// The largest config file read: every key with a long access list fits in far less.
pub(crate) const MAX_CONFIG: u64 = 1024 * 1024;

/// The text of the config file at `path`, read so that nothing an operator can name blocks or
/// exhausts the server: opened without waiting (a FIFO with no writer would hang the open), then
/// refused unless the open file is a regular one (not a FIFO, a device such as `/dev/zero`, or a
/// directory, through a link or not) of at most [`MAX_CONFIG`] bytes, and read no further than
/// that even if it grows meanwhile.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let failed = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let not_a_file = |why: String| ConfigError::NotAFile {
        path: path.to_owned(),
        why,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(failed)?;
    let meta = file.metadata().map_err(failed)?;
    if !meta.is_file() {
        return Err(not_a_file(format!(
            "not a regular file but {}",
            kind(&meta)
        )));
    }
    if meta.len() > MAX_CONFIG {
        return Err(not_a_file(format!(
            "{} bytes, more than a config file's {MAX_CONFIG}",
            meta.len()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG + 1)
        .read_to_end(&mut bytes)
        .map_err(failed)?;
    if bytes.len() as u64 > MAX_CONFIG {
        return Err(not_a_file(format!(
            "grew past a config file's {MAX_CONFIG} bytes while read"
        )));
    }
    String::from_utf8(bytes).map_err(|_| failed(std::io::ErrorKind::InvalidData.into()))
}

/// What a path that is not a regular file names, for the error.
fn kind(meta: &std::fs::Metadata) -> &'static str {
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

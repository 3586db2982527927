//! Reading `--config` as every file an operator names is read
//! ([`read_operator_file`]): so that a FIFO, a device such as `/dev/zero`, a directory or a
//! file of gigabytes cannot block or fill the server, at start or at SIGHUP.

use std::path::Path;

use upcase_transport::{FileProblem, read_operator_file};

use crate::error::ConfigError;

/// The largest config file read: every key with a long access list fits in far less.
pub(crate) const MAX_CONFIG: u64 = 1024 * 1024;

/// The text of the config file at `path`.
pub(crate) fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes =
        read_operator_file(path, MAX_CONFIG, "a config file").map_err(|problem| match problem {
            FileProblem::Read(source) => ConfigError::Read {
                path: path.to_owned(),
                source,
            },
            FileProblem::NotAFile(why) => ConfigError::NotAFile {
                path: path.to_owned(),
                why,
            },
        })?;
    String::from_utf8(bytes).map_err(|_| ConfigError::Read {
        path: path.to_owned(),
        source: std::io::ErrorKind::InvalidData.into(),
    })
}

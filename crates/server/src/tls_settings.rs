//! The TLS part of the [`Settings`](crate::Settings): whether TLS is served, and from which
//! certificate, key and client CA files.

use std::path::{Path, PathBuf};

use upcase_transport::TlsServerFiles;

use crate::args::ServerArgs;
use crate::error::ConfigError;

/// TLS's port unless told otherwise.
pub(crate) const DEFAULT_TLS_PORT: u16 = upcase_transport::TLS_PORT;

/// The TLS files the config file names.
pub(crate) struct FileTls<'a> {
    pub(crate) cert: Option<&'a Path>,
    pub(crate) key: Option<&'a Path>,
    pub(crate) client_ca: Option<&'a Path>,
}

/// The files TLS is served with: the flags', else the file's; `bad` makes the error for a key
/// of the file.
pub(crate) fn files(
    args: &ServerArgs,
    file: &FileTls<'_>,
    bad: impl Fn(&'static str, String) -> ConfigError,
) -> Result<TlsServerFiles, ConfigError> {
    let either = |flag: &Option<PathBuf>, key: Option<&Path>| {
        flag.clone().or_else(|| key.map(Path::to_path_buf))
    };
    let cert = either(&args.cert, file.cert);
    let key = either(&args.key, file.key);
    let client_ca = either(&args.client_ca, file.client_ca);
    let missing = |what: &str| {
        format!(
            "TLS needs {what} (PEM files); 'upcase cert' writes a certificate and key for \
             localhost"
        )
    };
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(TlsServerFiles {
            cert,
            key,
            client_ca,
        }),
        (None, None) => Err(usage(
            args,
            bad,
            "cert",
            missing("--cert FILE and --key FILE"),
        )),
        (None, Some(_)) => Err(usage(args, &bad, "cert", missing("--cert FILE too"))),
        (Some(_), None) => Err(usage(args, &bad, "key", missing("--key FILE too"))),
    }
}

/// The error for TLS's files: the flag's when TLS was asked for by flag, else the file's key.
fn usage(
    args: &ServerArgs,
    bad: impl Fn(&'static str, String) -> ConfigError,
    key: &'static str,
    message: String,
) -> ConfigError {
    if args.tls || args.quic {
        ConfigError::Flag {
            flag: if args.tls { "--tls" } else { "--quic" }.into(),
            message,
        }
    } else {
        bad(key, message)
    }
}

//! The TLS part of the [`Settings`](crate::Settings): whether TLS is served, and from which
//! certificate, key and client CA files.

use std::path::PathBuf;

use upcase_transport::TlsServerFiles;

use crate::{ConfigError, ServerArgs};

/// TLS's port unless told otherwise: HTTPS's 443 beside HTTP's 80, as 12443 beside 12000.
pub(crate) const DEFAULT_TLS_PORT: u16 = 12_443;

/// The TLS keys of the config file.
pub(crate) struct FileTls {
    pub(crate) tls: Option<bool>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
    pub(crate) client_ca: Option<PathBuf>,
}

/// The files TLS is served with, when it is served: the flags', else the file's; `bad` makes
/// the error for a key of the file.
pub(crate) fn files(
    args: &ServerArgs,
    file: &FileTls,
    bad: impl Fn(&'static str, String) -> ConfigError,
) -> Result<Option<TlsServerFiles>, ConfigError> {
    let named = args.udp || args.tcp || args.tls;
    let served = if named {
        args.tls
    } else {
        file.tls.unwrap_or(false)
    };
    if !served {
        return Ok(None);
    }
    let cert = args.cert.clone().or_else(|| file.cert.clone());
    let key = args.key.clone().or_else(|| file.key.clone());
    let client_ca = args.client_ca.clone().or_else(|| file.client_ca.clone());
    let missing = |what: &str| {
        format!(
            "TLS needs {what} (PEM files); 'upcase cert' writes a certificate and key for \
             localhost"
        )
    };
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(TlsServerFiles {
            cert,
            key,
            client_ca,
        })),
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
    if args.tls {
        ConfigError::Flag {
            flag: "--tls".into(),
            message,
        }
    } else {
        bad(key, message)
    }
}

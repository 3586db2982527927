//! Which transports the settings serve: UDP and TCP, and TLS and QUIC with their files.

use upcase_transport::TlsServerFiles;

use super::{Bad, File};
use crate::args::ServerArgs;
use crate::error::ConfigError;
use crate::tls_settings::FileTls;

/// Whether to serve UDP, TCP, TLS and QUIC: the flags', else the file's, else UDP and TCP.
/// Naming any transport serves exactly those named.
fn transports(
    args: &ServerArgs,
    file: &File,
    bad: &Bad<'_>,
) -> Result<(bool, bool, bool, bool), ConfigError> {
    let named = args.udp || args.tcp || args.tls || args.quic;
    let secure = file.tls.unwrap_or(false) || file.quic.unwrap_or(false);
    let (udp, tcp) = match (named, file.udp, file.tcp, secure) {
        (true, ..) => (args.udp, args.tcp),
        (false, None, None, false) => (true, true),
        (false, udp, tcp, _) => (udp.unwrap_or(false), tcp.unwrap_or(false)),
    };
    let (tls, quic) = if named {
        (args.tls, args.quic)
    } else {
        (file.tls.unwrap_or(false), file.quic.unwrap_or(false))
    };
    if !udp && !tcp && !tls && !quic {
        return Err(bad.key("udp")(
            "udp, tcp, tls and quic are all off; turn one on".into(),
        ));
    }
    Ok((udp, tcp, tls, quic))
}

/// Which transports are served: UDP and TCP as bools, TLS and QUIC with their files.
pub(super) fn secure_files(
    args: &ServerArgs,
    file: &File,
    bad: &Bad<'_>,
) -> Result<SecureFiles, ConfigError> {
    let (udp, tcp, tls, quic) = transports(args, file, bad)?;
    let files = (tls || quic)
        .then(|| tls_files(args, file, bad))
        .transpose()?;
    Ok((
        udp,
        tcp,
        files.clone().filter(|_| tls),
        files.filter(|_| quic),
    ))
}

/// UDP, TCP, and TLS's and QUIC's files when each is served.
pub(super) type SecureFiles = (bool, bool, Option<TlsServerFiles>, Option<TlsServerFiles>);

/// TLS's files, when TLS is served: the flags', else the file's.
fn tls_files(args: &ServerArgs, file: &File, bad: &Bad<'_>) -> Result<TlsServerFiles, ConfigError> {
    let file_tls = FileTls {
        cert: file.cert.as_deref(),
        key: file.key.as_deref(),
        client_ca: file.client_ca.as_deref(),
    };
    crate::tls_settings::files(args, &file_tls, |key, message| bad.key(key)(message))
}

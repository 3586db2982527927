//! Which transports the settings serve: UDP and TCP, and TLS and QUIC with their files.

use upcase_transport::TlsServerFiles;

use super::{Bad, File};
use crate::args::ServerArgs;
use crate::error::ConfigError;
use crate::tls_settings::FileTls;

/// Which transports are on, before TLS's files are read.
struct On {
    udp: bool,
    tcp: bool,
    tls: bool,
    quic: bool,
}

/// The transports served: UDP and TCP, and TLS and QUIC with their files when each is served.
pub(super) struct Served {
    pub(super) udp: bool,
    pub(super) tcp: bool,
    pub(super) tls: Option<TlsServerFiles>,
    pub(super) quic: Option<TlsServerFiles>,
}

/// Whether to serve UDP, TCP, TLS and QUIC: the flags', else the file's, else UDP and TCP.
/// Naming any transport serves exactly those named.
fn transports(args: &ServerArgs, file: &File, bad: &Bad<'_>) -> Result<On, ConfigError> {
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
    Ok(On {
        udp,
        tcp,
        tls,
        quic,
    })
}

/// Which transports are served, TLS and QUIC with their files (read once for both).
pub(super) fn served(args: &ServerArgs, file: &File, bad: &Bad<'_>) -> Result<Served, ConfigError> {
    let on = transports(args, file, bad)?;
    let files = (on.tls || on.quic)
        .then(|| tls_files(args, file, bad))
        .transpose()?;
    Ok(Served {
        udp: on.udp,
        tcp: on.tcp,
        tls: files.clone().filter(|_| on.tls),
        quic: files.filter(|_| on.quic),
    })
}

/// TLS's files, when TLS is served: the flags', else the file's.
fn tls_files(args: &ServerArgs, file: &File, bad: &Bad<'_>) -> Result<TlsServerFiles, ConfigError> {
    let file_tls = FileTls {
        cert: file.cert.as_deref(),
        key: file.key.as_deref(),
        client_ca: file.client_ca.as_deref(),
    };
    crate::tls_settings::files(args, &file_tls, |key, message| bad.key(key)(message))
}

//! [`reload`]: what SIGHUP does. TLS's certificate and key are read again, for new connections,
//! as nginx does. The config file is read again and what a running server can take, it takes:
//! `allow` and `deny`, from the next client on. Everything else (the port, the
//! transports, the limits, the workers) is fixed by the sockets and tasks already made; a change
//! to it is named in the log as waiting for a restart. No connection is dropped.

use tracing::{info, warn};

use upcase_transport::TlsKeys;

use crate::access::shown_networks;
use crate::args::ServerArgs;
use crate::config::Settings;
use crate::service::Service;

/// Reads TLS's files and the config file again, applies what can be to `service`, and logs
/// what changed. A file that cannot be read or is wrong leaves everything as it was.
pub(crate) fn reload(
    args: &ServerArgs,
    running: &mut Settings,
    keys: Option<&TlsKeys>,
    service: &Service,
) {
    if let (Some(keys), Some(files)) = (keys, running.key_files()) {
        match keys.reload(files) {
            Ok(()) => info!(
                "SIGHUP: reloaded {} and {} for new TLS and QUIC connections",
                files.cert.display(),
                files.key.display()
            ),
            Err(error) => warn!("SIGHUP: {error}; serving TLS with the certificate as it was"),
        }
    }
    reload_config(args, running, service);
}

fn reload_config(args: &ServerArgs, running: &mut Settings, service: &Service) {
    let Some(path) = &args.config else {
        info!("SIGHUP: no --config file to reload; serving on as before");
        return;
    };
    let new = match Settings::resolve(args) {
        Ok(new) => new,
        Err(error) => {
            warn!("SIGHUP: {error}; serving on with the settings as they were");
            return;
        }
    };
    service.set_access(new.options.access.clone());
    let waiting = restart_only_changes(running, &new);
    running.options.access = service.access().as_ref().clone();
    let access = &running.options.access;
    let restart = match waiting.as_slice() {
        [] => String::new(),
        keys => format!("; a restart is needed to change {}", keys.join(", ")),
    };
    info!(
        "SIGHUP: reloaded {}: allow {}; deny {}{restart}",
        path.display(),
        shown_networks(&access.allow),
        shown_networks(&access.deny)
    );
}

/// The keys whose new value differs from the running one but cannot be applied while running.
fn restart_only_changes(running: &Settings, new: &Settings) -> Vec<&'static str> {
    let (old, fresh) = (&running.options, &new.options);
    [
        ("udp", running.udp != new.udp),
        ("tcp", running.tcp != new.tcp),
        ("tls", running.tls.is_some() != new.tls.is_some()),
        ("tls-port", running.tls_port != new.tls_port),
        ("quic", running.quic.is_some() != new.quic.is_some()),
        ("quic-port", running.quic_port != new.quic_port),
        ("bind", running.bind != new.bind),
        ("port", running.port != new.port),
        ("transform", running.transform != new.transform),
        ("workers", running.workers != new.workers),
        ("metrics", running.metrics != new.metrics),
        (
            "max-connections",
            old.max_connections != fresh.max_connections,
        ),
        (
            "max-connections-per-source",
            old.max_connections_per_source != fresh.max_connections_per_source,
        ),
        (
            "max-datagrams-per-source",
            old.max_datagrams_per_source != fresh.max_datagrams_per_source,
        ),
        ("idle-timeout", old.idle_timeout != fresh.idle_timeout),
        ("max-line", old.max_line != fresh.max_line),
        ("drain-timeout", old.drain_timeout != fresh.drain_timeout),
        ("buffer-budget", old.buffer_budget != fresh.buffer_budget),
        ("proxy-protocol", old.proxy_protocol != fresh.proxy_protocol),
        ("proxy-from", old.proxy_from != fresh.proxy_from),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

//! `--proxy-protocol`: whom a PROXY header is believed from, and a proxied connection's two
//! admissions, the balancer's own before its header and the client's after it.
//!
//! A header says which client a connection is really from, so believing one from anybody lets
//! anybody claim any address: past `--allow`/`--deny`, past the per-source limits, into the
//! logs. As nginx believes `proxy_protocol` addresses only from `set_real_ip_from` networks,
//! and HAProxy expects a header only from its trusted sources, a header is read only from the
//! balancers `--proxy-from` names (loopback when it names none). A connection from anyone else
//! is closed at once and counted (`proxy_untrusted`): behind a balancer, a client that reaches
//! a backend directly has gone around the balancer's own rules, and serving it as itself would
//! give the port two meanings.
//!
//! Before its header, a connection is admitted by its direct peer's address: `--deny` applies
//! to it, and it is counted against its source, so that a balancer gone wrong (or anyone who
//! has taken its address) can hold at most `--max-connections-per-source` connections waiting
//! for headers, each for at most [`HEADER_TIMEOUT`]: nginx's `proxy_protocol_timeout`.
//! Once the header names the client, the connection is admitted again as that client, and
//! counted against the client's source instead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::timeout;
use upcase_proto::Transform;
use upcase_transport::Incoming;

use crate::connection::start_and_serve;
use crate::service::{Admission, Service, shown};
use crate::totals::{Event, Via};

/// How long a connection may take to send its PROXY header (capped by the idle timeout). A
/// balancer sends it with the connection's first bytes; five seconds allows for a slow one.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Admits `peer` by its balancer's address, reads its PROXY header, then admits it as the
/// client the header names, and starts its transport (a TLS handshake comes after the header).
pub(crate) async fn serve_proxied<I: Incoming, X: Transform>(
    mut peer: I,
    via: Via,
    transform: X,
    service: Arc<Service>,
    admission: Admission,
) {
    let balancer = peer.addr();
    let Some(admission) = admit_before_header(&service, balancer, admission) else {
        return;
    };
    if let Err(why) = read_header(&mut peer, &service).await {
        service.log_throttled(Event::ProxyHeader, || {
            format!("closed the connection: {why} (--proxy-protocol)")
        });
        return;
    }
    // The balancer's count ends here: from now on the connection is its client's.
    let admission = admission.uncounted();
    let Some(admission) = service.admit_connection(peer.addr(), admission) else {
        return;
    };
    start_and_serve(peer, via, transform, service, admission).await;
}

/// The admission of a connection before its header: from a named balancer, not denied, and
/// within its source's connections.
fn admit_before_header(
    service: &Service,
    from: SocketAddr,
    admission: Admission,
) -> Option<Admission> {
    if !service.options().is_balancer(from.ip()) {
        let named = if service.options().proxy_from.is_empty() {
            "loopback, as --proxy-from names none"
        } else {
            "--proxy-from"
        };
        service.log_throttled(Event::ProxyUntrusted, || {
            format!(
                "refused connection from {}: not a balancer ({named}); its PROXY header \
                 would not be believed (--proxy-protocol)",
                shown(from)
            )
        });
        return None;
    }
    // Its per-source limit bounds the connections waiting for their headers.
    service.admit_balancer(from, admission)
}

/// Waits for `peer`'s PROXY header, within [`HEADER_TIMEOUT`], the idle timeout and the drain.
async fn read_header<I: Incoming>(peer: &mut I, service: &Service) -> Result<(), String> {
    let idle = service.options().idle_timeout;
    let wait = if idle.is_zero() {
        HEADER_TIMEOUT
    } else {
        HEADER_TIMEOUT.min(idle)
    };
    let addr = shown(peer.addr());
    tokio::select! {
        header = timeout(wait, peer.accepted().read_proxy_header()) => match header {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_elapsed) => Err(format!("no PROXY protocol header from {addr} within {wait:?}")),
        },
        () = service.cut().raised() => Err(format!(
            "no PROXY protocol header from {addr} before the end of the drain"
        )),
    }
}

//! The `--metrics ADDR` endpoint: the counters for Prometheus at `/metrics`, and the health
//! checks of Kubernetes probes and balancers at `/healthz` and `/readyz`, over HTTP/1.1.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::metrics::{Format, encode};
use crate::service::ACCEPT_BACKOFF;
use crate::service::Service;
use crate::sources::SourceConnections;
use crate::stats::Trouble;

/// Most scrape connections served at once; more wait in the kernel's queue. A scraper needs
/// one; the cap keeps idle or half-open connections from taking the descriptors that the
/// service's own clients need.
const MAX_CONNECTIONS: usize = 64;

/// Most connections served at once from one source (an IPv4 address or an IPv6 /64): a
/// scraper or a probe needs one or two, and one client holding the whole cap with kept-alive
/// connections would leave the kubelet's probes unanswered, and the pod pulled.
const MAX_PER_SOURCE: usize = 8;

/// How long a connection may take to send its request's header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a connection lives, idle or kept alive, whatever it does: a scrape takes
/// milliseconds, and a scraper opens a new connection when its old one is gone.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(5);

/// Serves `GET /metrics`, `GET /healthz` (200 while the process serves) and `GET /readyz` (200
/// until the drain starts, then 503) on `listener` until `stop`, and `HEAD` of each, as every
/// general-purpose server must (RFC 9110 §9.1; HAProxy's `option httpchk HEAD /healthz` asks
/// it); another path gets 404, another method 405 with `Allow`. The service's
/// `--allow`/`--deny` apply; at most `MAX_CONNECTIONS` (64) are served at once, at most
/// `MAX_PER_SOURCE` (8) of them from one source, each for at most `CONNECTION_LIFETIME` (5 s),
/// and a failed accept (no descriptors left) backs off as the service's listeners do.
pub async fn serve_metrics(listener: TcpListener, service: Arc<Service>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let sources = SourceConnections::new(MAX_PER_SOURCE);
    loop {
        // Taken before the accept, so that past the cap new connections stay in the kernel.
        let slot = tokio::select! {
            () = stop.cancelled() => return,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_closed) => return,
            },
        };
        let (stream, from) = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    service.log_trouble(Trouble::MetricsAccept, || {
                        format!("metrics: accept failed: {error}; retrying in {ACCEPT_BACKOFF:?}")
                    });
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        if !service.gate().permits(from.ip()) {
            debug!("metrics: refused {from}: not allowed by --allow/--deny");
            continue;
        }
        let Ok(source) = sources.enter(from.ip()) else {
            debug!("metrics: refused {from}: {MAX_PER_SOURCE} connections from its source open");
            continue;
        };
        let service = Arc::clone(&service);
        let stop = stop.clone();
        tokio::spawn(async move {
            let respond = service_fn(move |request: Request<Incoming>| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(respond(&request, &service)) }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), respond);
            tokio::select! {
                served = tokio::time::timeout(CONNECTION_LIFETIME, connection) => match served {
                    Ok(Err(error)) => debug!("metrics: {from}: {error}"),
                    Err(_elapsed) => debug!("metrics: {from}: closed after {CONNECTION_LIFETIME:?}"),
                    Ok(Ok(())) => {}
                },
                () = stop.cancelled() => {}
            }
            drop((slot, source));
        });
    }
}

/// The content type of the plain answers.
const TEXT: &str = "text/plain; charset=utf-8";

/// The methods every path answers.
const ALLOWED: &str = "GET, HEAD";

fn respond(request: &Request<Incoming>, service: &Arc<Service>) -> Response<Full<Bytes>> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut response = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            format!("method not allowed: only {ALLOWED}\n"),
        );
        response.headers_mut().insert(
            hyper::header::ALLOW,
            hyper::header::HeaderValue::from_static(ALLOWED),
        );
        return response;
    }
    // HEAD is answered as GET: hyper sends the header, with the body's length, and no body.
    let (status, content_type, body): (StatusCode, &str, String) = match request.uri().path() {
        "/metrics" => {
            // OpenMetrics to a scraper that asks for it, as Prometheus does; the classic text
            // format (which `promtool check metrics` reads) otherwise.
            let format = match request.headers().get(hyper::header::ACCEPT) {
                Some(accept)
                    if accept
                        .as_bytes()
                        .starts_with(b"application/openmetrics-text") =>
                {
                    Format::OpenMetrics
                }
                _ => Format::Prometheus,
            };
            let text = encode(service, format);
            (StatusCode::OK, format.content_type(), text)
        }
        // The process serves: a liveness probe's answer.
        "/healthz" => (StatusCode::OK, TEXT, "ok\n".to_owned()),
        // New clients are taken: a readiness probe's answer, 503 from the drain's start.
        "/readyz" if service.is_ready() => (StatusCode::OK, TEXT, "ready\n".to_owned()),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            "draining: no new clients\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: the counters are at GET /metrics, health at /healthz and /readyz\n"
                .to_owned(),
        ),
    };
    plain(status, content_type, body)
}

/// A response of `status` with `body` of `content_type`.
fn plain(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

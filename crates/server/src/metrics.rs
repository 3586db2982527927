//! The server's counters as Prometheus text, served over HTTP on `--metrics ADDR`, and as one
//! line on SIGUSR1.

use std::convert::Infallible;
use std::fmt::Write;
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

use crate::service::ACCEPT_BACKOFF;
use crate::stats::Trouble;
use crate::{Event, Service, Totals};

/// The label each drop and early end carries in `upcase_dropped_total`.
fn reason(event: Event) -> &'static str {
    match event {
        Event::Served => "served",
        Event::Denied => "denied",
        Event::SourceLimit => "source_connection_limit",
        Event::RateLimit => "source_datagram_rate",
        Event::Reflection => "reflection_risk",
        Event::EchoLoop => "echo_loop",
        Event::ReplyTooLarge => "reply_too_large",
        Event::Amplification => "amplification",
        Event::LineTooLong => "line_too_long",
        Event::IdleTimeout => "idle_timeout",
        Event::Failed => "network_failure",
        Event::Cut => "cut_at_shutdown",
        Event::ProxyHeader => "bad_proxy_header",
    }
}

/// The counters in Prometheus's text exposition format (version 0.0.4), with the gauges of
/// open connections and of reply bytes held against `--buffer-budget`.
pub fn prometheus(totals: &Totals, open_connections: usize, buffered_bytes: usize) -> String {
    let mut text = String::new();
    let counters = [
        (
            "upcase_requests_total",
            "Connections served to their end and datagrams answered.",
            totals.count(Event::Served),
        ),
        (
            "upcase_received_bytes_total",
            "Bytes received from clients.",
            totals.bytes_in,
        ),
        (
            "upcase_sent_bytes_total",
            "Bytes sent to clients.",
            totals.bytes_out,
        ),
        (
            "upcase_invalid_utf8_bytes_total",
            "Bytes received that were not UTF-8, passed through unchanged.",
            totals.invalid_bytes,
        ),
    ];
    for (name, help, value) in counters {
        metric(&mut text, name, "counter", help, &one(value));
    }
    let drops: Vec<(String, u64)> = Event::ALL[1..]
        .iter()
        .map(|&event| {
            let labels = format!("{{reason=\"{}\"}}", reason(event));
            (labels, totals.count(event))
        })
        .collect();
    metric(
        &mut text,
        "upcase_dropped_total",
        "counter",
        "Clients refused, datagrams unanswered and connections ended early, by reason.",
        &drops,
    );
    gauges(&mut text, open_connections, buffered_bytes);
    text
}

/// The dropped log lines, and the gauges of open connections and of reply bytes held.
fn gauges(text: &mut String, open_connections: usize, buffered_bytes: usize) {
    let rest = [
        (
            "upcase_log_lines_dropped_total",
            "counter",
            "Log lines that standard error could not take (a closed pipe, a full disk).",
            crate::log::dropped_log_lines(),
        ),
        (
            "upcase_open_connections",
            "gauge",
            "TCP connections open now.",
            open_connections as u64,
        ),
        (
            "upcase_buffered_bytes",
            "gauge",
            "Bytes of replies not yet sent that connections hold now, against --buffer-budget.",
            buffered_bytes as u64,
        ),
    ];
    for (name, kind, help, value) in rest {
        metric(text, name, kind, help, &one(value));
    }
}

/// One sample without labels.
fn one(value: u64) -> [(String, u64); 1] {
    [(String::new(), value)]
}

/// One metric's help, type and samples.
fn metric(text: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, u64)]) {
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (labels, value) in samples {
        let _ = writeln!(text, "{name}{labels} {value}");
    }
}

/// Most scrape connections served at once; more wait in the kernel's queue. A scraper needs
/// one; the cap keeps idle or half-open connections from taking the descriptors that the
/// service's own clients need.
const MAX_CONNECTIONS: usize = 64;

/// How long a connection may take to send its request's header.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest a connection lives, idle or kept alive, whatever it does: a scrape takes
/// milliseconds, and a scraper opens a new connection when its old one is gone.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(5);

/// Serves `GET /metrics`, `GET /healthz` (200 while the process serves) and `GET /readyz` (200
/// until the drain starts, then 503) on `listener` until `stop`; every other request gets 404. The
/// service's `--allow`/`--deny` apply; at most `MAX_CONNECTIONS` (64) are served at once, each for
/// at most `CONNECTION_LIFETIME` (5 s), and a failed accept (no descriptors left) backs off as the
/// service's listeners do.
pub async fn serve_metrics(listener: TcpListener, service: Arc<Service>, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
        if !service.permits(from.ip()) {
            debug!("metrics: refused {from}: not allowed by --allow/--deny");
            continue;
        }
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
            drop(slot);
        });
    }
}

/// The content type of the plain answers.
const TEXT: &str = "text/plain; charset=utf-8";

fn respond(request: &Request<Incoming>, service: &Service) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            prometheus(
                &service.totals(),
                service.open_connections(),
                service.buffered_bytes(),
            ),
        ),
        // The process serves: a liveness probe's answer.
        (&Method::GET, "/healthz") => (StatusCode::OK, TEXT, "ok\n".to_owned()),
        // New clients are taken: a readiness probe's answer, 503 from the drain's start.
        (&Method::GET, "/readyz") if service.is_ready() => {
            (StatusCode::OK, TEXT, "ready\n".to_owned())
        }
        (&Method::GET, "/readyz") => (
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
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_exposed_with_its_type() {
        let mut totals = Totals::default();
        totals.counts[Event::Served as usize] = 7;
        totals.counts[Event::RateLimit as usize] = 2;
        totals.bytes_in = 100;
        totals.bytes_out = 120;
        let text = prometheus(&totals, 3, 0);
        for line in [
            "# TYPE upcase_requests_total counter",
            "upcase_requests_total 7",
            "upcase_received_bytes_total 100",
            "upcase_sent_bytes_total 120",
            "upcase_invalid_utf8_bytes_total 0",
            "upcase_dropped_total{reason=\"source_datagram_rate\"} 2",
            "upcase_dropped_total{reason=\"denied\"} 0",
            "# TYPE upcase_open_connections gauge",
            "upcase_open_connections 3",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from:\n{text}"
            );
        }
        // One sample per reason besides serving.
        assert_eq!(
            text.matches("upcase_dropped_total{").count(),
            Event::ALL.len() - 1
        );
    }
}

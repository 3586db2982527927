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
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::debug;

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

/// The counters in Prometheus's text exposition format (version 0.0.4).
pub fn prometheus(totals: &Totals, open_connections: usize) -> String {
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(text, "{name}{labels} {value}");
        }
    };
    let one = |value| [(String::new(), value)];
    metric(
        "upcase_requests_total",
        "counter",
        "Connections served to their end and datagrams answered.",
        &one(totals.count(Event::Served)),
    );
    metric(
        "upcase_received_bytes_total",
        "counter",
        "Bytes received from clients.",
        &one(totals.bytes_in),
    );
    metric(
        "upcase_sent_bytes_total",
        "counter",
        "Bytes sent to clients.",
        &one(totals.bytes_out),
    );
    metric(
        "upcase_invalid_utf8_bytes_total",
        "counter",
        "Bytes received that were not UTF-8, passed through unchanged.",
        &one(totals.invalid_bytes),
    );
    let drops: Vec<(String, u64)> = Event::ALL[1..]
        .iter()
        .map(|&event| {
            (
                format!("{{reason=\"{}\"}}", reason(event)),
                totals.count(event),
            )
        })
        .collect();
    metric(
        "upcase_dropped_total",
        "counter",
        "Clients refused, datagrams unanswered and connections ended early, by reason.",
        &drops,
    );
    metric(
        "upcase_open_connections",
        "gauge",
        "TCP connections open now.",
        &one(open_connections as u64),
    );
    text
}

/// Serves `GET /metrics` on `listener` until `stop`; every other request gets 404.
pub async fn serve_metrics(listener: TcpListener, service: Arc<Service>, stop: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    debug!("metrics: accept failed: {error}");
                    continue;
                }
            },
        };
        let service = Arc::clone(&service);
        let stop = stop.clone();
        tokio::spawn(async move {
            let respond = service_fn(move |request: Request<Incoming>| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(respond(&request, &service)) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), respond);
            tokio::select! {
                served = connection => if let Err(error) = served {
                    debug!("metrics: {error}");
                },
                () = stop.cancelled() => {}
            }
        });
    }
}

fn respond(request: &Request<Incoming>, service: &Service) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            prometheus(&service.totals(), service.open_connections()),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: the counters are at GET /metrics\n".to_owned(),
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
        let text = prometheus(&totals, 3);
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

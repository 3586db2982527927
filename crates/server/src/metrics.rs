//! The server's counters, and the process's, as Prometheus reads them: built at each scrape
//! with the Prometheus project's own client (`prometheus-client`) from the service's counters,
//! which the requests bump as they go and nothing else.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use upcase_transport::HandshakeFailure;

use crate::service::Service;
use crate::totals::Event;
use crate::totals::{Totals, Via};

/// The exposition formats a scraper may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics text 1.0, what Prometheus asks for.
    OpenMetrics,
    /// Prometheus's classic text format, 0.0.4: what `promtool check metrics` reads.
    Prometheus,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        }
    }
}

/// The service's and the process's metrics, in `format`.
pub fn encode(service: &Arc<Service>, format: Format) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ServiceMetrics(Arc::clone(service))));
    registry.register_collector(Box::new(ProcessMetrics));
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = match format {
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &registry),
        Format::Prometheus => {
            prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        }
    };
    text
}

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
        Event::ProxyUntrusted => "proxy_untrusted",
        Event::NotUnicast => "not_unicast",
    }
}

/// The service's counters and gauges, read at each scrape.
struct ServiceMetrics(Arc<Service>);

impl std::fmt::Debug for ServiceMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceMetrics")
    }
}

impl Collector for ServiceMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let service = &self.0;
        let totals = service.totals();
        let by_transport = [
            (
                "upcase_requests",
                "Connections served to their end and datagrams answered, by transport.",
                Via::ALL.map(|via| totals.traffic(via).served),
            ),
            (
                "upcase_received_bytes",
                "Bytes received from clients, by transport.",
                Via::ALL.map(|via| totals.traffic(via).bytes_in),
            ),
            (
                "upcase_sent_bytes",
                "Bytes sent to clients, by transport.",
                Via::ALL.map(|via| totals.traffic(via).bytes_out),
            ),
        ];
        for (name, help, values) in by_transport {
            let named = Via::ALL.into_iter().map(Via::name).zip(values);
            labelled(&mut encoder, name, help, "transport", named)?;
        }
        by_reason(&totals, &mut encoder)?;
        let counters = [
            (
                "upcase_invalid_utf8_bytes",
                "Bytes received that were not UTF-8, passed through unchanged.",
                totals.invalid_bytes,
            ),
            (
                "upcase_log_lines_dropped",
                "Log lines that standard error could not take (a closed pipe, a full disk).",
                crate::log::dropped_log_lines(),
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        service_gauges(service, &mut encoder)
    }
}

/// The counters by reason: drops, and failed TLS handshakes.
fn by_reason(totals: &Totals, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let drops = Event::ALL[1..]
        .iter()
        .map(|event| (reason(*event), totals.count(*event)));
    labelled(
        encoder,
        "upcase_dropped",
        "Clients refused, datagrams unanswered and connections ended early, by reason.",
        "reason",
        drops,
    )?;
    let failures = HandshakeFailure::ALL
        .into_iter()
        .map(|failure| (failure.name(), totals.handshake_failures(failure)));
    labelled(
        encoder,
        "upcase_tls_handshake_failures",
        "TLS handshakes that failed, by reason.",
        "reason",
        failures,
    )
}

/// A counter family `name` with one sample for each (label value, count) of `values`.
fn labelled<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl Iterator<Item = (&'a str, u64)>,
) -> Result<(), std::fmt::Error> {
    let kind = ConstCounter::new(0u64).metric_type();
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (value_name, value) in values {
        let labels = [(label, value_name)];
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The gauges of open connections, of reply bytes held, and of the build.
fn service_gauges(
    service: &Service,
    encoder: &mut DescriptorEncoder,
) -> Result<(), std::fmt::Error> {
    let gauges = [
        (
            "upcase_open_connections",
            "TCP connections open now.",
            service.open_connections() as i64,
        ),
        (
            "upcase_buffered_bytes",
            "Bytes of replies not yet sent that connections hold now, against --buffer-budget.",
            service.buffered_bytes() as i64,
        ),
    ];
    for (name, help, value) in gauges {
        let gauge = ConstGauge::new(value);
        gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
    }
    let build = ConstGauge::new(1i64);
    let mut family = encoder.encode_descriptor(
        "upcase_build_info",
        "The running build, by version; always 1.",
        None,
        build.metric_type(),
    )?;
    let labels = [("version", env!("CARGO_PKG_VERSION"))];
    build.encode(family.encode_family(&labels)?)
}

/// The process collector's metrics, from /proc (Linux), under the names every Prometheus
/// client library gives them. Elsewhere, none.
#[derive(Debug)]
struct ProcessMetrics;

impl Collector for ProcessMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(process) = crate::process::Process::read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(process.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                process.resident_bytes as f64,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                process.open_fds as f64,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                process.max_fds as f64,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                process.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    #[test]
    fn every_counter_is_exposed_with_its_type_and_labels() {
        let service = Service::new(Options::default());
        service.stats().served(Via::Tcp);
        service.stats().served(Via::Tcp);
        service.stats().served(Via::Udp);
        service.stats().bytes(Via::Tcp, 100, 120, 0);
        service.stats().count(Event::RateLimit);
        let text = encode(&service, Format::Prometheus);
        for line in [
            "# TYPE upcase_requests_total counter",
            "upcase_requests_total{transport=\"udp\"} 1",
            "upcase_requests_total{transport=\"tcp\"} 2",
            "upcase_received_bytes_total{transport=\"tcp\"} 100",
            "upcase_sent_bytes_total{transport=\"tcp\"} 120",
            "upcase_invalid_utf8_bytes_total 0",
            "upcase_dropped_total{reason=\"source_datagram_rate\"} 1",
            "upcase_dropped_total{reason=\"denied\"} 0",
            "# TYPE upcase_open_connections gauge",
            "upcase_open_connections 0",
            "upcase_build_info{version=\"0.1.0\"} 1",
            "# TYPE process_cpu_seconds_total counter",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE process_open_fds gauge",
            "# TYPE process_max_fds gauge",
            "# TYPE process_start_time_seconds gauge",
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

    #[test]
    fn openmetrics_ends_with_eof_and_names_families_without_total() {
        let service = Service::new(Options::default());
        let text = encode(&service, Format::OpenMetrics);
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE upcase_requests counter\n"), "{text}");
        assert!(
            text.contains("\nupcase_requests_total{transport=\"tcp\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn the_process_reads_itself() {
        let process = crate::process::Process::read().expect("/proc");
        assert!(process.resident_bytes > 0);
        assert!(process.open_fds > 0 && process.open_fds <= process.max_fds);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        assert!(process.start_time_seconds <= now + 1.0);
        assert!(
            process.start_time_seconds > now - 3600.0,
            "started within the hour"
        );
    }
}

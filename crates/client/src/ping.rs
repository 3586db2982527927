//! `upcase client --count N`: probing a server like ping, over UDP or TCP.
//!
//! Each probe is a new connection (TCP: its time includes the handshake, as the textbook's
//! client pays it) or a new socket (UDP: a late reply to an earlier probe cannot pass for this
//! one's), and is sent once: a probe with no reply within `--timeout` is lost, not retried.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::time::{Instant, MissedTickBehavior, interval};
use upcase_transport::{Client, ClientOptions, Transport, TransportError};

use crate::output::{Out, json_line, write_out};
use crate::{ClientArgs, ClientError};

/// The message of a probe when none is given.
const DEFAULT_MESSAGE: &[u8] = b"ping";

/// One probe's outcome, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Probe {
    seq: u64,
    transport: &'static str,
    server: String,
    /// Bytes of the reply; absent when none came.
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// What a run of probes showed, as ping summarises it, plus two percentiles.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub(crate) sent: u64,
    pub(crate) received: u64,
    pub(crate) loss_percent: f64,
    /// Round-trip statistics in milliseconds; absent when nothing came back.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) rtt: Option<Rtt>,
}

/// Round trips in milliseconds.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct Rtt {
    pub(crate) min_ms: f64,
    pub(crate) avg_ms: f64,
    pub(crate) max_ms: f64,
    /// The standard deviation, which ping calls mdev.
    pub(crate) mdev_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Summary {
    /// The summary of `sent` probes, of which those in `rtts` were answered.
    pub(crate) fn of(sent: u64, rtts: &[Duration]) -> Self {
        let received = rtts.len() as u64;
        let loss_percent = if sent == 0 {
            0.0
        } else {
            100.0 * (sent - received) as f64 / sent as f64
        };
        let mut ms: Vec<f64> = rtts.iter().map(|rtt| rtt.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rtt = (!ms.is_empty()).then(|| {
            let n = ms.len() as f64;
            let avg = ms.iter().sum::<f64>() / n;
            let square = ms.iter().map(|x| x * x).sum::<f64>() / n;
            // Nearest rank: the smallest value with at least p% of the values at or below it.
            let rank = |p: f64| ms[((p / 100.0 * n).ceil() as usize).clamp(1, ms.len()) - 1];
            Rtt {
                min_ms: ms[0],
                avg_ms: avg,
                max_ms: ms[ms.len() - 1],
                mdev_ms: (square - avg * avg).max(0.0).sqrt(),
                p50_ms: rank(50.0),
                p99_ms: rank(99.0),
            }
        });
        Self {
            sent,
            received,
            loss_percent,
            rtt,
        }
    }
}

/// Probes the server `count` times, `--interval` apart, printing a line for each and a summary;
/// Ctrl-C ends the run early, with its summary.
///
/// # Errors
/// [`ClientError::NoReplies`] when not one probe was answered; an output error.
pub(crate) async fn ping<T: Transport>(
    args: &ClientArgs,
    addrs: Vec<SocketAddr>,
    options: ClientOptions,
    count: u64,
    out: &mut Out,
) -> Result<(), ClientError> {
    let message = args.message().unwrap_or_else(|| DEFAULT_MESSAGE.to_vec());
    let server = addrs
        .first()
        .map_or_else(|| args.host.clone(), SocketAddr::to_string);
    let options = ClientOptions {
        retries: 0,
        ..options
    };
    if !args.json {
        let header = format!(
            "PING {} ({server}) over {}: {}-byte message\n",
            args.host,
            T::NAME,
            message.len()
        );
        write_out(out, header.as_bytes())?;
    }

    let mut ticks = interval(args.interval.into());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut rtts = Vec::new();
    let mut sent = 0;
    for seq in 1..=count {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut interrupted => break,
        }
        let outcome = tokio::select! {
            outcome = probe::<T>(&addrs, options, &message) => outcome,
            _ = &mut interrupted => break,
        };
        sent += 1;
        if let Ok((_, _, rtt)) = &outcome {
            rtts.push(*rtt);
        }
        let line = probe_line(seq, T::NAME, &server, &outcome);
        write_out(out, render(&line, args.json).as_bytes())?;
    }
    summarize(args, T::NAME, server, &Summary::of(sent, &rtts), out)
}

/// One probe: a fresh exchange of `message`; the server that answered, the reply's length and
/// the round trip.
async fn probe<T: Transport>(
    addrs: &[SocketAddr],
    options: ClientOptions,
    message: &[u8],
) -> Result<(SocketAddr, usize, Duration), ProbeFailed> {
    let started = Instant::now();
    let mut client = T::connect(addrs.to_vec(), options).await?;
    let reply = client.exchange_reply(message).await?;
    let peer = client.peer();
    if reply.bytes.is_empty() && !message.is_empty() {
        return Err(ProbeFailed::Empty);
    }
    crate::output::note_quiet(&reply, peer);
    Ok((peer, reply.bytes.len(), reply.finished - started))
}

/// The line for probe `seq`, answered or not.
fn probe_line(
    seq: u64,
    transport: &'static str,
    server: &str,
    outcome: &Result<(SocketAddr, usize, Duration), ProbeFailed>,
) -> Probe {
    match outcome {
        Ok((peer, bytes, rtt)) => Probe {
            seq,
            transport,
            server: peer.to_string(),
            bytes: Some(*bytes),
            rtt_ms: Some(rtt.as_secs_f64() * 1e3),
            error: None,
        },
        Err(error) => Probe {
            seq,
            transport,
            server: server.to_owned(),
            bytes: None,
            rtt_ms: None,
            error: Some(reason(error)),
        },
    }
}

/// Prints the summary; an error when not one probe was answered.
fn summarize(
    args: &ClientArgs,
    transport: &'static str,
    server: String,
    summary: &Summary,
    out: &mut Out,
) -> Result<(), ClientError> {
    let text = if args.json {
        #[derive(Serialize)]
        struct Last<'a> {
            transport: &'static str,
            server: &'a str,
            summary: &'a Summary,
        }
        json_line(&Last {
            transport,
            server: &server,
            summary,
        })
    } else {
        summary_text(&args.host, summary)
    };
    write_out(out, text.as_bytes())?;
    if summary.received == 0 {
        return Err(ClientError::NoReplies {
            count: summary.sent,
            server,
        });
    }
    Ok(())
}

/// Why a probe got no reply.
enum ProbeFailed {
    /// The server closed without a byte of reply to a message that was not empty.
    Empty,
    /// The network said why.
    Transport(TransportError),
}

impl From<TransportError> for ProbeFailed {
    fn from(error: TransportError) -> Self {
        ProbeFailed::Transport(error)
    }
}

/// Why a probe got no reply, in a few words.
fn reason(failed: &ProbeFailed) -> String {
    let error = match failed {
        ProbeFailed::Empty => return "closed without a reply".into(),
        ProbeFailed::Transport(error) => error,
    };
    match error {
        TransportError::NoReply { timeout, .. } => {
            format!("no reply within {}", humantime::format_duration(*timeout))
        }
        TransportError::Refused(_) => "refused (port unreachable)".into(),
        error => error.to_string(),
    }
}

fn render(probe: &Probe, json: bool) -> String {
    if json {
        return json_line(probe);
    }
    match (probe.bytes, probe.rtt_ms, &probe.error) {
        (Some(bytes), Some(ms), _) => format!(
            "{bytes} bytes from {}: seq={} time={ms:.3} ms\n",
            probe.server, probe.seq
        ),
        (_, _, error) => format!(
            "no reply from {}: seq={}: {}\n",
            probe.server,
            probe.seq,
            error.as_deref().unwrap_or("lost")
        ),
    }
}

fn summary_text(host: &str, summary: &Summary) -> String {
    let mut text = format!(
        "--- {host} upcase ping statistics ---\n{} probes sent, {} received, {} loss\n",
        summary.sent,
        summary.received,
        percent(summary.loss_percent)
    );
    if let Some(rtt) = &summary.rtt {
        text.push_str(&format!(
            "rtt min/avg/max/mdev = {:.3}/{:.3}/{:.3}/{:.3} ms, p50 {:.3} ms, p99 {:.3} ms\n",
            rtt.min_ms, rtt.avg_ms, rtt.max_ms, rtt.mdev_ms, rtt.p50_ms, rtt.p99_ms
        ));
    }
    text
}

/// `0%`, `100%`, `33.3%`: whole numbers without a fraction, as ping prints them.
fn percent(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn summary_is_ping_s_with_percentiles() {
        let summary = Summary::of(4, &ms(&[3, 1, 2]));
        assert_eq!((summary.sent, summary.received), (4, 3));
        assert_eq!(summary.loss_percent, 25.0);
        let rtt = summary.rtt.expect("some replies");
        assert_eq!((rtt.min_ms, rtt.avg_ms, rtt.max_ms), (1.0, 2.0, 3.0));
        assert!((rtt.mdev_ms - (2.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert_eq!((rtt.p50_ms, rtt.p99_ms), (2.0, 3.0));
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        let rtt = Summary::of(100, &ms(&hundred)).rtt.expect("replies");
        assert_eq!((rtt.p50_ms, rtt.p99_ms), (50.0, 99.0));
        let one = Summary::of(1, &ms(&[7])).rtt.expect("a reply");
        assert_eq!((one.p50_ms, one.p99_ms, one.mdev_ms), (7.0, 7.0, 0.0));
    }

    #[test]
    fn nothing_back_has_no_round_trips() {
        let summary = Summary::of(3, &[]);
        assert_eq!((summary.received, summary.loss_percent), (0, 100.0));
        assert_eq!(summary.rtt, None);
        assert_eq!(
            summary_text("h", &summary),
            "--- h upcase ping statistics ---\n3 probes sent, 0 received, 100% loss\n"
        );
    }

    #[test]
    fn loss_reads_like_ping_s() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(100.0 / 3.0), "33.3%");
    }
}

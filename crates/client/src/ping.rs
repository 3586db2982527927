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

use crate::args::ClientArgs;
use crate::error::ClientError;
use crate::expect::Expect;
use crate::output::{Out, json_line, write_out};
use crate::summary::Summary;

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
    /// TLS's handshake, part of `rtt_ms`; absent without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    handshake_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// How the reply was wrong, as ping(8) says it; absent when it was right.
    #[serde(skip_serializing_if = "Option::is_none")]
    wrong: Option<String>,
}

/// Probes the server `count` times, `--interval` apart, printing a line for each and a summary;
/// Ctrl-C ends the run early, with its summary.
///
/// # Errors
/// [`ClientError::NoReplies`] when not one probe was answered; an output error.
pub(crate) async fn ping<T: Transport>(
    args: &ClientArgs,
    transport: &T,
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
    let mut expect = Expect::new(&message);
    let mut wrong = 0;
    let mut prober = Prober::<T> {
        transport,
        addrs: &addrs,
        options,
        reuse: args.reuse,
        kept: None,
    };
    for seq in 1..=count {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut interrupted => break,
        }
        let outcome = tokio::select! {
            outcome = prober.probe(&message) => outcome,
            _ = &mut interrupted => break,
        };
        sent += 1;
        let mut line = probe_line(seq, T::NAME, &server, &outcome);
        if let Ok(answered) = &outcome {
            rtts.push(answered.rtt);
            line.wrong = expect.check(&answered.reply);
            wrong += u64::from(line.wrong.is_some());
        }
        write_out(out, render(&line, args.json).as_bytes())?;
    }
    prober.finish().await;
    let summary = Summary {
        wrong,
        ..Summary::of(sent, &rtts)
    };
    summarize(args, T::NAME, server, &summary, out)
}

/// A probe's answer: the server that sent it, the reply, and the round trip.
struct Answered {
    peer: SocketAddr,
    /// How long TLS's handshake took, within the round trip.
    handshake: Option<Duration>,
    reply: Vec<u8>,
    rtt: Duration,
}

/// What each probe needs: where the server is, and with `--reuse`, the client kept from the
/// probe before.
struct Prober<'a, T: Transport> {
    transport: &'a T,
    addrs: &'a [SocketAddr],
    options: ClientOptions,
    /// `--reuse`: one client for every probe (over QUIC, one connection, a stream a probe).
    reuse: bool,
    kept: Option<T::Client>,
}

impl<T: Transport> Prober<'_, T> {
    /// One probe: an exchange of `message` on a new client (or, with `--reuse`, the one kept),
    /// whose reply must arrive whole within `--timeout` of its start, as `ping -W` means: a
    /// server that trickles it, each byte restarting the wait for the next, does not hold the
    /// run. Only a new client's handshake is reported.
    async fn probe(&mut self, message: &[u8]) -> Result<Answered, ProbeFailed> {
        let started = Instant::now();
        let (transport, addrs, options, reuse) =
            (self.transport, self.addrs, self.options, self.reuse);
        let kept = &mut self.kept;
        let exchange = async {
            let (mut client, handshake) = match kept.take() {
                Some(client) => (client, None),
                None => {
                    let client = transport.connect(addrs.to_vec(), options).await?;
                    let handshake = client.handshake().map(|tls| tls.took);
                    (client, handshake)
                }
            };
            let reply = client.exchange_reply(message).await;
            let peer = client.peer();
            if reuse && reply.is_ok() {
                *kept = Some(client);
            } else {
                client.finish().await;
            }
            Ok::<_, ProbeFailed>((peer, reply?, handshake))
        };
        let (peer, reply, handshake) = tokio::time::timeout(options.timeout, exchange)
            .await
            .map_err(|_| ProbeFailed::Late(options.timeout))??;
        if reply.bytes.is_empty() && !message.is_empty() {
            return Err(ProbeFailed::Empty);
        }
        crate::output::note_quiet(&reply, peer);
        Ok(Answered {
            peer,
            handshake,
            rtt: reply.finished - started,
            reply: reply.bytes,
        })
    }

    /// Ends the kept client, if any.
    async fn finish(self) {
        if let Some(mut client) = self.kept {
            client.finish().await;
        }
    }
}

/// The line for probe `seq`, answered or not.
fn probe_line(
    seq: u64,
    transport: &'static str,
    server: &str,
    outcome: &Result<Answered, ProbeFailed>,
) -> Probe {
    match outcome {
        Ok(answered) => Probe {
            seq,
            transport,
            server: answered.peer.to_string(),
            bytes: Some(answered.reply.len()),
            rtt_ms: Some(answered.rtt.as_secs_f64() * 1e3),
            handshake_ms: answered.handshake.map(|took| took.as_secs_f64() * 1e3),
            error: None,
            wrong: None,
        },
        Err(error) => Probe {
            seq,
            transport,
            server: server.to_owned(),
            bytes: None,
            rtt_ms: None,
            handshake_ms: None,
            error: Some(reason(error)),
            wrong: None,
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
    if summary.wrong > 0 {
        return Err(ClientError::WrongReplies {
            wrong: summary.wrong,
            received: summary.received,
        });
    }
    Ok(())
}

/// Why a probe got no reply.
enum ProbeFailed {
    /// The server closed without a byte of reply to a message that was not empty.
    Empty,
    /// The reply did not arrive whole within `--timeout` of the probe's start.
    Late(Duration),
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
        // Said as a transport's own timeout says it: whether nothing came or a part did, no
        // reply arrived in time.
        ProbeFailed::Late(timeout) => {
            return format!("no reply within {}", humantime::format_duration(*timeout));
        }
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
        (Some(bytes), Some(ms), _) => {
            let handshake = probe
                .handshake_ms
                .map_or_else(String::new, |took| format!(" handshake={took:.3} ms"));
            let mut line = format!(
                "{bytes} bytes from {}: seq={} time={ms:.3} ms{handshake}\n",
                probe.server, probe.seq
            );
            if let Some(wrong) = &probe.wrong {
                line.push_str(wrong);
                line.push('\n');
            }
            line
        }
        (_, _, error) => format!(
            "no reply from {}: seq={}: {}\n",
            probe.server,
            probe.seq,
            error.as_deref().unwrap_or("lost")
        ),
    }
}

fn summary_text(host: &str, summary: &Summary) -> String {
    let wrong = match summary.wrong {
        0 => String::new(),
        n => format!(", {n} wrong"),
    };
    let mut text = format!(
        "--- {host} upcase ping statistics ---\n{} probes sent, {} received{wrong}, {} loss\n",
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

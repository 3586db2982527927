//! [`command`]: `upcase client`, from flags to printed replies.

use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, BufReader};
use upcase_proto::{line_message, reply_line};
use upcase_transport::{
    Client, ClientOptions, Reply, ReplyEnd, Tcp, Transport, TransportError, Udp, resolve,
};

use crate::args::ClientArgs;
use crate::error::ClientError;
use crate::output::{Out, Show, json_line, write_out};
use crate::ping::ping;

/// The textbook's prompt, shown before each line when standard input is a terminal.
pub const PROMPT: &str = "Input lowercase sentence:";

/// Runs `upcase client`.
///
/// # Errors
/// [`ClientError`] when the host does not resolve, the server cannot be reached or does not
/// answer, or a message cannot be sent as asked. Standard output closing early is not an error.
pub async fn command(args: ClientArgs) -> Result<(), ClientError> {
    let addrs = resolve(&args.host, args.port())
        .await
        .map_err(|error| match error {
            TransportError::Resolve { host, reason } => ClientError::Resolve { host, reason },
            error => error.into(),
        })?;
    let options = ClientOptions {
        timeout: args.timeout.into(),
        retries: args.retries,
        max_reply: args.max_reply,
    };
    let show = Show::choose(args.raw);
    // The one choice of transport; everything below takes it as a value.
    let outcome = if args.udp {
        talk(&args, &Udp, addrs, options, show).await
    } else if args.tls {
        let tls = args.tls_args.transport(&args.host, true)?;
        talk(&args, &tls, addrs, options, show).await
    } else if args.quic {
        let quic = args.tls_args.quic(&args.host)?;
        talk(&args, &quic, addrs, options, show).await
    } else {
        talk(&args, &Tcp, addrs, options, show).await
    };
    match outcome {
        Err(ClientError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        outcome => outcome,
    }
}

/// Everything below the choice of transport.
async fn talk<T: Transport>(
    args: &ClientArgs,
    transport: &T,
    addrs: Vec<SocketAddr>,
    options: ClientOptions,
    show: Show,
) -> Result<(), ClientError> {
    let mut stdout = Out;
    if let Some(count) = args.count {
        return ping(args, transport, addrs, options, count, &mut stdout).await;
    }
    let started = tokio::time::Instant::now();
    let max_time = MaxTime(args.max_time.into());
    let mut client = max_time.within(transport.connect(addrs, options)).await??;
    let outcome = converse(args, &mut client, T::NAME, started, show).await;
    client.finish().await;
    outcome
}

/// The conversation of `talk` once connected: a message, a prompt, or a pipe.
async fn converse<C: Client>(
    args: &ClientArgs,
    client: &mut C,
    transport: &'static str,
    started: tokio::time::Instant,
    show: Show,
) -> Result<(), ClientError> {
    let mut stdout = Out;
    let max_time = MaxTime(args.max_time.into());
    if let Some(message) = args.message() {
        let reply = max_time
            .within_rest(started, client.exchange_reply(&message))
            .await??;
        check_reply(&message, &reply, client.peer())?;
        if args.json {
            let tls = client.handshake();
            let report = OneShot {
                transport,
                tls_version: tls.map(|tls| tls.version.as_str()),
                cipher: tls.map(|tls| tls.cipher.as_str()),
                key_exchange: tls.map(|tls| tls.key_exchange.as_str()),
                quic_version: tls.and_then(|tls| tls.quic_version),
                alpn: tls.and_then(|tls| tls.alpn.as_deref()),
                handshake_ms: tls.map(|tls| tls.took.as_secs_f64() * 1e3),
                server: client.peer().to_string(),
                request_bytes: message.len(),
                reply_bytes: reply.bytes.len(),
                rtt_ms: (reply.finished - started).as_secs_f64() * 1e3,
                ended: match reply.end {
                    ReplyEnd::Closed => "closed",
                    ReplyEnd::Quiet => "quiet",
                },
                reply: String::from_utf8_lossy(&reply.bytes),
            };
            return write_out(&mut stdout, json_line(&report).as_bytes());
        }
        print_reply(&mut stdout, &reply.bytes, show)
    } else if args.json {
        Err(ClientError::Usage(
            "--json needs a MESSAGE or --count: replies to standard input are printed as they \
             come; see 'upcase client --help'"
                .into(),
        ))
    } else if std::io::stdin().is_terminal() {
        prompt_loop(client, &mut stdout, show, max_time).await
    } else {
        crate::pipe::pipe(client, show).await
    }
}

/// The one-shot mode's report under `--json`.
#[derive(serde::Serialize)]
struct OneShot<'a> {
    transport: &'static str,
    /// TLS's version (`TLSv1.3`), cipher suite, key exchange, ALPN and handshake time;
    /// absent without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cipher: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_exchange: Option<&'a str>,
    /// QUIC's version, over QUIC.
    #[serde(skip_serializing_if = "Option::is_none")]
    quic_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    handshake_ms: Option<f64>,
    server: String,
    request_bytes: usize,
    reply_bytes: usize,
    /// From the start of the connection (TCP) to the reply's last byte.
    rtt_ms: f64,
    /// `closed`: the server closed after the reply; `quiet`: it sent nothing more for
    /// `--timeout` and did not close, so the reply may be cut short.
    ended: &'static str,
    /// The reply as text; bytes that are not UTF-8 show as U+FFFD (`reply_bytes` counts them).
    reply: std::borrow::Cow<'a, str>,
}

/// The textbook's client, looped: prompt, read a line, send it, print the reply.
async fn prompt_loop<C: Client>(
    client: &mut C,
    stdout: &mut Out,
    show: Show,
    max_time: MaxTime,
) -> Result<(), ClientError> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        write_out(stdout, PROMPT.as_bytes())?;
        line.clear();
        if stdin
            .read_until(b'\n', &mut line)
            .await
            .map_err(ClientError::Input)?
            == 0
        {
            // End of input (Ctrl-D) leaves the cursor after the prompt.
            return write_out(stdout, b"\n");
        }
        let message = line_message(&line);
        let reply = max_time.within(client.exchange_reply(message)).await??;
        check_reply(message, &reply, client.peer())?;
        print_reply(stdout, &reply.bytes, show)?;
    }
}

/// Fails on an empty reply to a message that was not empty: the server closed without
/// answering. Says on stderr when a reply ended in silence rather than a close.
pub(crate) fn check_reply(
    message: &[u8],
    reply: &Reply,
    server: SocketAddr,
) -> Result<(), ClientError> {
    if reply.bytes.is_empty() && !message.is_empty() {
        return Err(ClientError::EmptyReply { server });
    }
    if is_tls_alert(&reply.bytes) && !is_tls_alert(message) {
        return Err(ClientError::TlsPort { server });
    }
    crate::output::note_quiet(reply, server);
    Ok(())
}

/// Whether `bytes` are one TLS alert record, as a TLS server sends to a client whose first
/// bytes were not a handshake: type 21, version 3.x, two bytes of alert.
fn is_tls_alert(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15, 0x03, 0x00..=0x04, 0x00, 0x02, 0x01 | 0x02, _])
}

fn print_reply(stdout: &mut Out, reply: &[u8], show: Show) -> Result<(), ClientError> {
    let mut line = Vec::with_capacity(reply.len() + 1);
    reply_line(reply, &mut line);
    let mut out = Vec::with_capacity(line.len());
    show.append(&line, &mut out);
    write_out(stdout, &out)
}

/// `--max-time`: the deadline of a whole exchange, from connecting to its reply's end, as
/// curl's; zero for none. Every byte of a trickled reply restarts `--timeout`, so it alone
/// cannot end an exchange that a server drags out.
#[derive(Debug, Clone, Copy)]
struct MaxTime(std::time::Duration);

impl MaxTime {
    /// `work`, or [`ClientError::MaxTime`] if it takes longer than the deadline.
    async fn within<T>(self, work: impl Future<Output = T>) -> Result<T, ClientError> {
        self.within_rest(tokio::time::Instant::now(), work).await
    }

    /// `work`, or [`ClientError::MaxTime`] if it is not done by the deadline counted from
    /// `started`.
    async fn within_rest<T>(
        self,
        started: tokio::time::Instant,
        work: impl Future<Output = T>,
    ) -> Result<T, ClientError> {
        if self.0.is_zero() {
            return Ok(work.await);
        }
        tokio::time::timeout_at(started + self.0, work)
            .await
            .map_err(|_| ClientError::MaxTime { max_time: self.0 })
    }
}

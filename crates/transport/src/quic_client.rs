//! [`QuicClient`]: one QUIC connection to the server, made once and kept, and a stream of it
//! for each exchange; a pipe is one stream.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use quinn::{Connection, Endpoint};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::time::{Instant, timeout};

use crate::CHUNK;
use crate::client::{Client, ClientOptions, Reply, ReplyEnd};
use crate::error::{Attempt, TransportError};
use crate::handshake::Handshake;
use crate::quic_failure::classify;
use crate::tls_client::with_trust_hint;

/// How long a client waits, at its end, for its close to reach the server.
const FINISH_PATIENCE: std::time::Duration = std::time::Duration::from_millis(100);

/// The pipe mode's buffers, each way, as the stream transports' pipe has them.
const PIPE_BUFFER: usize = 256 * 1024;

/// A client of a QUIC server: the first of its addresses that shakes hands.
#[derive(Debug)]
pub struct QuicClient {
    addrs: Vec<SocketAddr>,
    current: usize,
    options: ClientOptions,
    config: quinn::ClientConfig,
    name: String,
    /// The endpoint and connection in use, kept for the exchanges to come.
    connection: Option<(Endpoint, Connection)>,
    handshake: Option<Handshake>,
}

impl QuicClient {
    /// Shakes hands with the first of `addrs` that answers, keeping the connection.
    pub(crate) async fn connect(
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
        config: quinn::ClientConfig,
        name: String,
    ) -> Result<Self, TransportError> {
        let mut client = Self {
            addrs,
            current: 0,
            options,
            config,
            name,
            connection: None,
            handshake: None,
        };
        client.connection().await?;
        Ok(client)
    }

    /// The connection: the one kept, unless it has ended, else a new one.
    async fn connection(&mut self) -> Result<Connection, TransportError> {
        if let Some((_, connection)) = &self.connection
            && connection.close_reason().is_none()
        {
            return Ok(connection.clone());
        }
        // An address where nothing answers is passed for the next, as for TCP; one whose
        // server refused the handshake is the answer.
        let (mut failures, mut silent) = (Vec::new(), None);
        let (count, current) = (self.addrs.len(), self.current);
        for i in (0..count).map(|k| (current + k) % count) {
            match self.open(self.addrs[i]).await {
                Ok((endpoint, connection)) => {
                    self.current = i;
                    self.connection = Some((endpoint, connection.clone()));
                    return Ok(connection);
                }
                Err(TransportError::Io(error)) => failures.push(Attempt {
                    addr: self.addrs[i],
                    error,
                }),
                Err(error @ TransportError::NoReply { .. }) => silent = Some(error),
                Err(error) => return Err(error),
            }
        }
        Err(silent.unwrap_or(TransportError::Connect(failures)))
    }

    /// A connection to `addr`, from an endpoint of its family, within the timeout.
    async fn open(&mut self, addr: SocketAddr) -> Result<(Endpoint, Connection), TransportError> {
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let endpoint = Endpoint::client(local)?;
        let started = Instant::now();
        let connecting = endpoint
            .connect_with(self.config.clone(), addr, &self.name)
            .map_err(|error| TransportError::Io(io::Error::other(error)))?;
        let limit = self.options.timeout;
        let connection = match timeout(limit, connecting).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                return Err(with_trust_hint(TransportError::handshake(
                    addr,
                    classify(&error),
                )));
            }
            // QUIC is UDP: nothing there is silence, as for a datagram.
            Err(_) => {
                return Err(TransportError::NoReply {
                    transport: "quic",
                    addr,
                    tries: 1,
                    timeout: limit,
                });
            }
        };
        self.handshake = Some(agreed(&connection, started.elapsed()));
        Ok((endpoint, connection))
    }
}

/// `error` on `connection`, said as the handshake's failure when the server closed the
/// connection over it (a client certificate it wanted, one it refused): over TLS 1.3 that
/// comes only after the client's side of the handshake has ended.
fn closed(connection: &Connection, addr: SocketAddr, error: io::Error) -> TransportError {
    match connection.close_reason() {
        Some(reason @ quinn::ConnectionError::ConnectionClosed(_)) => {
            TransportError::handshake(addr, classify(&reason))
        }
        _ => error.into(),
    }
}

fn agreed(connection: &Connection, took: std::time::Duration) -> Handshake {
    let alpn = connection
        .handshake_data()
        .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|data| data.protocol)
        .map(|alpn| String::from_utf8_lossy(&alpn).into_owned());
    // quinn does not say which cipher suite and group its TLS agreed.
    Handshake {
        took,
        version: "TLSv1.3".into(),
        cipher: "unknown".into(),
        key_exchange: "unknown".into(),
        alpn,
        resumed: false,
        quic_version: Some(1),
    }
}

impl Client for QuicClient {
    fn peer(&self) -> SocketAddr {
        self.addrs[self.current]
    }

    fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    async fn exchange_reply(&mut self, message: &[u8]) -> Result<Reply, TransportError> {
        let connection = self.connection().await?;
        let addr = self.peer();
        let lost = |error: io::Error| closed(&connection, addr, error);
        let (mut send, mut recv) = connection
            .open_bi()
            .await
            .map_err(|error| lost(error.into()))?;
        send.write_all(message)
            .await
            .map_err(|error| lost(error.into()))?;
        let _ = send.finish();
        let (max, wait) = (self.options.max_reply, self.options.timeout);
        let mut reply = Vec::new();
        let mut buf = vec![0; CHUNK];
        let mut finished = Instant::now();
        loop {
            match timeout(wait, recv.read(&mut buf)).await {
                Ok(Ok(None)) => {
                    return Ok(Reply {
                        bytes: reply,
                        finished,
                        end: ReplyEnd::Closed,
                    });
                }
                Ok(Ok(Some(n))) if reply.len() + n > max => {
                    return Err(TransportError::ReplyTooLong { addr, max });
                }
                Ok(Ok(Some(n))) => {
                    finished = Instant::now();
                    reply.extend_from_slice(&buf[..n]);
                }
                Ok(Err(error)) => return Err(lost(error.into())),
                Err(_) => {
                    return Err(TransportError::NoReply {
                        transport: "quic",
                        addr,
                        tries: 1,
                        timeout: wait,
                    });
                }
            }
        }
    }

    async fn finish(&mut self) {
        if let Some((endpoint, connection)) = self.connection.take() {
            connection.close(0u32.into(), b"done");
            // Long enough for the close to leave, not for the whole draining period.
            let _ = timeout(FINISH_PATIENCE, endpoint.wait_idle()).await;
        }
    }

    async fn pipe<R, O>(&mut self, input: R, output: O) -> Result<(), TransportError>
    where
        R: AsyncRead + Unpin + Send,
        O: AsyncWrite + Unpin + Send,
    {
        let connection = self.connection().await?;
        let addr = self.peer();
        let lost = |error: io::Error| closed(&connection, addr, error);
        let (mut send, recv) = connection
            .open_bi()
            .await
            .map_err(|error| lost(error.into()))?;
        let mut input = BufReader::with_capacity(PIPE_BUFFER, input);
        let mut from_server = BufReader::with_capacity(PIPE_BUFFER, recv);
        let mut output = BufWriter::with_capacity(PIPE_BUFFER, output);
        let upload = async {
            tokio::io::copy_buf(&mut input, &mut send).await?;
            send.finish().map_err(io::Error::other)
        };
        let download = async {
            tokio::io::copy_buf(&mut from_server, &mut output).await?;
            output.flush().await
        };
        crate::client::both_ways(upload, download)
            .await
            .map_err(lost)?;
        Ok(())
    }
}

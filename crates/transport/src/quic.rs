//! [`Quic`]: the textbook's stream protocol over QUIC, one exchange per bidirectional stream,
//! as a transport value that carries its configuration: the server's [`TlsKeys`] and limits,
//! or what a client trusts and which name it expects.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::QuicClientConfig;
use quinn::{Endpoint, EndpointConfig, IdleTimeout, ServerConfig, TokioRuntime, TransportConfig};

use crate::client::ClientOptions;
use crate::error::TransportError;
use crate::quic_client::QuicClient;
use crate::quic_server::QuicListener;
use crate::tls::TlsClientOptions;
use crate::tls::{DEFAULT_HANDSHAKE_TIMEOUT, client_config, server_name};
use crate::tls_keys::TlsKeys;
use crate::{BoundSocket, Sharing, Transport};

/// Streams one QUIC connection may have open at once unless told otherwise: each is a request
/// in flight, as a connection is over TCP.
pub const DEFAULT_MAX_STREAMS: u32 = 100;

/// How much longer than `--idle-timeout` a silent connection is kept than its streams.
const IDLE_GRACE: Duration = Duration::from_secs(2);

/// QUIC over UDP, carrying the textbook's stream protocol on each bidirectional stream.
#[derive(Debug, Clone)]
pub struct Quic {
    server: Option<TlsKeys>,
    client: Option<(quinn::ClientConfig, String)>,
    handshake_timeout: Duration,
    /// How long a connection may stay silent; zero for no limit.
    idle_timeout: Duration,
    max_streams: u32,
}

impl Quic {
    /// A server's QUIC, serving `keys`.
    pub fn server(keys: TlsKeys) -> Self {
        Self {
            server: Some(keys),
            client: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: Duration::ZERO,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }

    /// How long a server waits for a connection's handshake.
    #[must_use]
    pub fn with_handshake_timeout(mut self, limit: Duration) -> Self {
        self.handshake_timeout = limit;
        self
    }

    /// How long a connection may stay silent before it is closed; zero for no limit.
    #[must_use]
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// How many streams one connection may have open at once.
    #[must_use]
    pub fn with_max_streams(mut self, streams: u32) -> Self {
        self.max_streams = streams;
        self
    }

    /// A client's QUIC: TLS 1.3 inside, ALPN `upcase`.
    ///
    /// # Errors
    /// As for [`Tls::client`](crate::Tls::client).
    pub fn client(options: &TlsClientOptions) -> Result<Self, TransportError> {
        let name = server_name(options)?.to_str().into_owned();
        let config = client_config(options, &[&rustls::version::TLS13])?;
        let config = QuicClientConfig::try_from(config)
            .map_err(|error| TransportError::Tls(error.to_string()))?;
        let mut client = quinn::ClientConfig::new(Arc::new(config));
        client.transport_config(Arc::new(transport(Duration::ZERO, 0)));
        Ok(Self {
            server: None,
            client: Some((client, name)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: Duration::ZERO,
            max_streams: 0,
        })
    }
}

impl Quic {
    /// A client's configuration and the name it expects the server's certificate for, for
    /// callers that make their own connections (a load generator's); `None` for a server's.
    pub fn client_parts(&self) -> Option<QuicClientParts<'_>> {
        self.client
            .as_ref()
            .map(|(config, name)| QuicClientParts { config, name })
    }
}

/// What a QUIC client connects with, lent by [`Quic::client_parts`].
#[derive(Debug, Clone, Copy)]
pub struct QuicClientParts<'a> {
    /// quinn's client configuration: what the client trusts, its ALPN, its transport parameters.
    pub config: &'a quinn::ClientConfig,
    /// The name the server's certificate must be for.
    pub name: &'a str,
}

/// QUIC's transport parameters: `streams` bidirectional streams the peer may open, none
/// unidirectional, no datagrams; a connection silent for `idle` is closed (never with zero).
fn transport(idle: Duration, streams: u32) -> TransportConfig {
    let mut transport = TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(streams.into())
        .max_concurrent_uni_streams(0u32.into())
        .datagram_receive_buffer_size(None)
        .max_idle_timeout(IdleTimeout::try_from(idle).ok().filter(|_| !idle.is_zero()));
    transport
}

impl Transport for Quic {
    const NAME: &'static str = "quic";
    type Server = QuicListener;
    type Client = QuicClient;

    fn bind_socket(
        &self,
        addr: SocketAddr,
        sharing: Sharing,
    ) -> Result<BoundSocket, TransportError> {
        crate::udp::datagram_socket(Self::NAME, addr, sharing)
    }

    fn listen(&self, bound: BoundSocket) -> Result<QuicListener, TransportError> {
        let keys = self.server.clone().ok_or(TransportError::NotConfigured {
            transport: Self::NAME,
            side: "server",
        })?;
        let mut config = ServerConfig::with_crypto(keys.quic());
        // The connection outlives its streams' idle timeout by a grace, so that a stream the
        // server ends for idleness is ended in words (its FIN) before the connection goes
        // silent: else the client may see only a dead connection, by a hair.
        let idle = match self.idle_timeout {
            idle if idle.is_zero() => idle,
            idle => idle + IDLE_GRACE,
        };
        config.transport_config(Arc::new(transport(idle, self.max_streams)));
        let addr = bound.addr;
        let bind_error = |source| TransportError::Bind {
            transport: Self::NAME,
            addr,
            source,
        };
        let socket: std::net::UdpSocket = bound.socket.into();
        socket.set_nonblocking(true).map_err(bind_error)?;
        let endpoint = Endpoint::new(
            EndpointConfig::default(),
            Some(config.clone()),
            socket,
            Arc::new(TokioRuntime),
        )
        .map_err(bind_error)?;
        Ok(QuicListener {
            endpoint,
            keys,
            config,
            handshake_timeout: self.handshake_timeout,
        })
    }

    async fn connect(
        &self,
        addrs: Vec<SocketAddr>,
        options: ClientOptions,
    ) -> Result<QuicClient, TransportError> {
        let (config, name) = self.client.clone().ok_or(TransportError::NotConfigured {
            transport: Self::NAME,
            side: "client",
        })?;
        QuicClient::connect(addrs, options, config, name).await
    }
}

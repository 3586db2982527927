//! [`run`]: serve one listener until shutdown, within the limits of [`Options`].

use std::future::Future;
use std::sync::Arc;

use upcase_proto::Transform;
use upcase_transport::{QuicListener, ServerSocket, TcpListener, TlsListener, UdpServer};

use crate::options::Options;
use crate::service::Service;
use crate::totals::{Totals, Via};

/// A bound server socket that [`run`] and [`serve`] can serve: a TCP or TLS listener, or a UDP
/// socket. Each transport is served in the shape that fits it, chosen here by the socket's
/// type, once.
pub trait Serve: ServerSocket {
    /// Serves the socket under `service`'s rules until `shutdown` completes, then drains what
    /// it still has open.
    fn serve<X: Transform>(
        self,
        transform: X,
        service: &Arc<Service>,
        shutdown: impl Future + Send,
    ) -> impl Future<Output = ()> + Send;
}

impl Serve for TcpListener {
    async fn serve<X: Transform>(
        self,
        transform: X,
        service: &Arc<Service>,
        shutdown: impl Future + Send,
    ) {
        crate::accept::serve_listener(self, Via::Tcp, transform, service, shutdown).await;
    }
}

impl Serve for TlsListener {
    async fn serve<X: Transform>(
        self,
        transform: X,
        service: &Arc<Service>,
        shutdown: impl Future + Send,
    ) {
        crate::accept::serve_listener(self, Via::Tls, transform, service, shutdown).await;
    }
}

impl Serve for QuicListener {
    async fn serve<X: Transform>(
        self,
        transform: X,
        service: &Arc<Service>,
        shutdown: impl Future + Send,
    ) {
        crate::quic_serve::serve_quic(self, transform, service, shutdown).await;
    }
}

impl Serve for UdpServer {
    async fn serve<X: Transform>(
        self,
        transform: X,
        service: &Arc<Service>,
        shutdown: impl Future + Send,
    ) {
        crate::datagram::serve_datagrams(self, transform, service, shutdown).await;
    }
}

/// Serves every peer of `listener` with a fresh copy of `transform`, until `shutdown`
/// completes, and returns what it did.
///
/// Each peer is first checked against [`Options::access`] and the per-source limits, and a
/// datagram against the reflection rules of docs/PROTOCOL.md; a refused connection is closed at
/// once, a refused datagram gets no reply. Refusals and drops are counted and logged, at most
/// one line a second for each kind.
///
/// At shutdown it closes the listening socket, lets open connections finish on their own for
/// up to [`Options::drain_timeout`], then answers each for what it has sent, closes it, and
/// returns.
///
/// To serve several listeners under one set of limits (one per transport, or one per worker
/// thread), give each to [`serve`] with the same [`Service`].
///
/// ```no_run
/// # async fn example() -> Result<(), upcase_transport::TransportError> {
/// use upcase_proto::Builtin;
/// use upcase_server::{Options, run};
/// use upcase_transport::{Tcp, Transport};
///
/// let listener = Tcp.bind("127.0.0.1:12000".parse().unwrap()).await?;
/// let totals = run(listener, Builtin::Upper, Options::default(), async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await;
/// println!("{totals}");
/// # Ok(())
/// # }
/// ```
pub async fn run<S, X>(
    socket: S,
    transform: X,
    options: Options,
    shutdown: impl Future + Send,
) -> Totals
where
    S: Serve,
    X: Transform,
{
    let service = Service::new(options);
    serve(socket, transform, &service, shutdown).await;
    service.totals()
}

/// [`run`] for one of several sockets sharing `service`: serves `socket` until `shutdown`
/// completes, then drains its connections as [`run`] does. Its traffic counts in
/// [`Service::totals`].
pub async fn serve<S, X>(
    socket: S,
    transform: X,
    service: &Arc<Service>,
    shutdown: impl Future + Send,
) where
    S: Serve,
    X: Transform,
{
    // Not ready from the moment the drain starts, whichever transport this socket is.
    let shutdown = async {
        shutdown.await;
        service.start_drain();
    };
    socket.serve(transform, service, shutdown).await;
}

//! [`run`]: serve one listener until shutdown.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use upcase_proto::{Transform, Transformer};
use upcase_transport::{Listener, Peer, TransportError};

/// Limits that shape how [`run`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Most peers served at once when each needs a task of its own (TCP connections). When all
    /// are busy, new connections wait in the kernel's listen queue until one closes.
    pub max_connections: usize,
    /// After shutdown, how long open connections get to send what they owe and close.
    pub drain_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// How long to wait after a failed accept. Most failures (too many open files, a connection
/// reset before it was accepted) pass; retrying at once would only spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves every peer of `listener` with a fresh copy of `transform`, until `shutdown` completes.
///
/// Then it takes no new peer, tells open connections to finish (each is transformed to the end
/// of what it had received, sent, and closed), waits up to [`Options::drain_timeout`] for them,
/// and returns.
///
/// ```no_run
/// # async fn example() -> Result<(), upcase_transport::TransportError> {
/// use upcase_proto::Builtin;
/// use upcase_server::{Options, run};
/// use upcase_transport::{Tcp, Transport};
///
/// let listener = Tcp::bind("127.0.0.1:12000".parse().unwrap()).await?;
/// run(listener, Builtin::Upper, Options::default(), async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await;
/// # Ok(())
/// # }
/// ```
pub async fn run<L, X>(mut listener: L, transform: X, options: Options, shutdown: impl Future)
where
    L: Listener,
    X: Transform,
{
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let limit = Arc::new(Semaphore::new(options.max_connections));
    tokio::pin!(shutdown);

    loop {
        // The permit is taken before accepting, so that a full server leaves new connections
        // in the kernel's queue instead of accepting them and making them wait.
        let permit = if L::PEERS_WAIT {
            tokio::select! {
                _ = &mut shutdown => break,
                permit = Arc::clone(&limit).acquire_owned() => match permit {
                    Ok(permit) => Some(permit),
                    Err(_closed) => break,
                },
            }
        } else {
            None
        };
        let peer = tokio::select! {
            _ = &mut shutdown => break,
            peer = listener.accept() => peer,
        };
        match peer {
            Ok(peer) => {
                let served = serve(peer, Transformer::new(transform.clone()), stop.clone());
                if L::PEERS_WAIT {
                    tasks.spawn(async move {
                        served.await;
                        drop(permit);
                    });
                } else {
                    served.await;
                }
            }
            Err(error) => {
                warn!("accept failed: {error}; retrying in {ACCEPT_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }

    stop.cancel();
    tasks.close();
    if !tasks.is_empty() {
        info!(
            "waiting up to {:?} for {} connections to finish",
            options.drain_timeout,
            tasks.len()
        );
    }
    if tokio::time::timeout(options.drain_timeout, tasks.wait())
        .await
        .is_err()
    {
        warn!(
            "{} connections still open after the drain timeout; closing them",
            tasks.len()
        );
    }
}

/// Serves one peer to the end, and logs how it ended.
async fn serve<P: Peer, X: Transform>(
    mut peer: P,
    stream: Transformer<X>,
    stop: CancellationToken,
) {
    let addr = peer.addr();
    let outcome = match transform_stream(&mut peer, stream, &stop).await {
        Ok(()) => peer.close().await,
        Err(error) => Err(error.into()),
    };
    match outcome {
        Ok(()) => debug!("{addr}: done"),
        Err(error @ TransportError::ReplyTooLarge { .. }) => warn!("{error}"),
        Err(error) => debug!("{addr}: {error}"),
    }
}

/// Reads the peer's stream to its end (or to shutdown), writing each chunk's transform back as
/// soon as it is made.
async fn transform_stream<P: Peer, X: Transform>(
    peer: &mut P,
    mut stream: Transformer<X>,
    stop: &CancellationToken,
) -> io::Result<()> {
    let mut out = Vec::new();
    loop {
        out.clear();
        let chunk: &[u8] = tokio::select! {
            chunk = peer.read() => chunk?,
            // Shutdown ends the stream as if the client had: what was received is answered.
            () = stop.cancelled() => &[],
        };
        if chunk.is_empty() {
            stream.finish(&mut out);
            return peer.write(&out).await;
        }
        stream.feed(chunk, &mut out);
        peer.write(&out).await?;
    }
}

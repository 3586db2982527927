//! The worker threads of `upcase server`: each a single-threaded runtime serving sockets of
//! its own, with, on Linux, a thread of its own for its UDP socket.

use std::sync::Arc;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use upcase_proto::Builtin;
use upcase_transport::BoundSocket;

use crate::error::ServerError;
use crate::served::Served;
use crate::service::Service;
use crate::sockets::{Listening, Sockets};

/// Waits for the worker threads to end, with the first error any of them had.
pub(crate) async fn join_workers(
    workers: Vec<std::thread::JoinHandle<Result<(), ServerError>>>,
) -> Result<(), ServerError> {
    let ended = tokio::task::spawn_blocking(move || {
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(Err(ServerError::WorkerPanicked)))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|_| ServerError::WorkerPanicked)?;
    ended.into_iter().collect()
}

/// One worker thread: a single-threaded runtime serving its own sockets, so that a datagram or
/// a connection is served on the thread whose socket took it, with no hand-over between threads.
pub(crate) struct Worker {
    sockets: Sockets,
    transform: Builtin,
    service: Arc<Service>,
    stop: CancellationToken,
    /// Told once the sockets are served.
    ready: oneshot::Sender<()>,
}

impl Worker {
    /// A worker for `sockets`, which tells `ready` once it serves them.
    pub(crate) fn new(
        sockets: Sockets,
        transform: Builtin,
        service: &Arc<Service>,
        stop: &CancellationToken,
        ready: oneshot::Sender<()>,
    ) -> Self {
        Self {
            sockets,
            transform,
            service: Arc::clone(service),
            stop: stop.clone(),
            ready,
        }
    }

    /// Serves until `stop`, then drains; on failure, stops the other workers too.
    pub(crate) fn run(self) -> Result<(), ServerError> {
        let stop = self.stop.clone();
        let outcome = self.serve();
        if outcome.is_err() {
            stop.cancel();
        }
        outcome
    }

    fn serve(self) -> Result<(), ServerError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ServerError::Worker)?;
        let Worker {
            sockets: Sockets(sockets),
            transform,
            service,
            stop,
            ready,
        } = self;
        // On Linux, UDP gets a thread of its own that sleeps in `recvmmsg`, with no event loop
        // between a datagram and its reply (see `BlockingUdp`); elsewhere the runtime serves it.
        #[cfg(target_os = "linux")]
        let (udp_threads, sockets) = {
            let (udp, others): (Vec<_>, Vec<_>) = sockets
                .into_iter()
                .partition(|each| matches!(each.served, Served::Udp(_)));
            let threads = udp
                .into_iter()
                .map(|each| UdpThread::start(each.socket, transform, &service))
                .collect::<Result<Vec<_>, _>>()?;
            (threads, others)
        };
        runtime.block_on(async {
            let tasks = sockets
                .into_iter()
                .map(|Listening { served, socket }| {
                    served.spawn(socket, transform, &service, &stop)
                })
                .collect::<Result<Vec<_>, _>>()?;
            // The main thread may have stopped waiting already, after a signal.
            let _ = ready.send(());
            #[cfg(target_os = "linux")]
            if !udp_threads.is_empty() {
                stop.cancelled().await;
                udp_threads.iter().for_each(UdpThread::stop);
            }
            for task in tasks {
                task.await.map_err(|_| ServerError::WorkerPanicked)?;
            }
            Ok::<_, ServerError>(())
        })?;
        #[cfg(target_os = "linux")]
        for thread in udp_threads {
            thread.join()?;
        }
        Ok(())
    }
}

/// A thread serving one UDP socket with blocking calls. Dropped without
/// [`join`](Self::join), as when its worker fails, it is stopped and waited for all the same.
#[cfg(target_os = "linux")]
struct UdpThread {
    stopper: upcase_transport::UdpStopper,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(target_os = "linux")]
impl UdpThread {
    fn start(
        socket: BoundSocket,
        transform: Builtin,
        service: &Arc<Service>,
    ) -> Result<Self, ServerError> {
        let socket = upcase_transport::BlockingUdp::new(socket).map_err(ServerError::Bind)?;
        let stopper = socket.stopper();
        let service = Arc::clone(service);
        let name = match std::thread::current().name() {
            Some(worker) => worker.replace("worker", "udp"),
            None => "upcase-udp".to_owned(),
        };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || crate::datagram::serve_blocking_udp(socket, transform, &service))
            .map_err(ServerError::Worker)?;
        Ok(Self {
            stopper,
            thread: Some(thread),
        })
    }

    /// Tells the thread to stop once it has answered what it received.
    fn stop(&self) {
        self.stopper.stop();
    }

    /// Stops the thread and waits for it to end.
    fn join(mut self) -> Result<(), ServerError> {
        self.finish().map_err(|_panic| ServerError::WorkerPanicked)
    }

    /// Stops the thread and waits for it, unless that was done already; `Err` if it panicked.
    fn finish(&mut self) -> std::thread::Result<()> {
        self.stop();
        self.thread
            .take()
            .map_or(Ok(()), std::thread::JoinHandle::join)
    }
}

#[cfg(target_os = "linux")]
impl Drop for UdpThread {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

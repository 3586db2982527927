//! A UDP server socket served by a thread of its own, with blocking system calls (Linux).
//!
//! Served through an event loop, a datagram costs a wait in `epoll_wait` before its
//! `recvmmsg`, and tokio's UDP sockets are registered for writability too, so each reply sent
//! raises one more event and one more `epoll_wait`. A thread that sleeps in `recvmmsg` itself,
//! as the textbook's server sleeps in `recvfrom`, pays for neither: a lone ping-pong client
//! costs one `recvmmsg` and one `sendmmsg` per request, and a loaded socket one of each per
//! batch of up to 64.
//!
//! The thread stops when told through a [`UdpStopper`]: it shuts the socket down for reading,
//! which wakes a `recvmmsg` that is waiting.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use socket2::Socket;

use crate::batch::{Received, Reply, segmentation, send_all};
use crate::{BoundSocket, TransportError, Udp, socket};

/// A bound UDP socket answered batch by batch on the calling thread; see the module docs.
#[derive(Debug)]
pub struct BlockingUdp {
    /// The socket, blocking, lent to its stopper.
    socket: Arc<Socket>,
    /// Set by the stopper before it shuts the socket down.
    stopped: Arc<AtomicBool>,
    /// The datagrams of the current batch.
    received: Received,
    /// The replies to the current batch.
    replies: Vec<Reply>,
    /// Where the replies of the last batch that could not be sent were going.
    failed: Vec<SocketAddr>,
    /// Whether replies to one client may leave as one segmented send.
    segmentation: AtomicBool,
}

/// Tells a [`BlockingUdp`] to return from its wait and stop; see [`BlockingUdp::stopper`].
#[derive(Debug, Clone)]
pub struct UdpStopper {
    /// Weak, so that the socket closes, and its port is free, as soon as its server returns.
    socket: Weak<Socket>,
    stopped: Arc<AtomicBool>,
}

/// Why a batch could not be served in full.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Nothing was received, so nothing was answered; the socket may still serve.
    #[error("cannot receive datagrams: {0}")]
    Receive(#[source] io::Error),
    /// A reply could not be sent; the batch's other replies were.
    /// [`BlockingUdp::unsent`] says to whom.
    #[error("cannot send a reply: {0}")]
    Send(#[source] io::Error),
}

impl BlockingUdp {
    /// Takes a UDP socket from [`Transport::bind_socket`](crate::Transport::bind_socket) (or
    /// [`BoundSocket::from_udp_socket`]) to serve with blocking calls.
    ///
    /// # Errors
    /// [`TransportError::Bind`] when the socket cannot be made blocking.
    pub fn new(bound: BoundSocket) -> Result<Self, TransportError> {
        let BoundSocket { socket, addr } = bound;
        socket
            .set_nonblocking(false)
            .map_err(|source| TransportError::Bind {
                transport: <Udp as crate::Transport>::NAME,
                addr,
                source,
            })?;
        Ok(Self {
            segmentation: segmentation(&socket),
            socket: Arc::new(socket),
            stopped: Arc::new(AtomicBool::new(false)),
            received: Received::new(),
            replies: Vec::new(),
            failed: Vec::new(),
        })
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    /// When the operating system cannot say.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(&self.socket)
    }

    /// A handle that stops this socket from another thread.
    pub fn stopper(&self) -> UdpStopper {
        UdpStopper {
            socket: Arc::downgrade(&self.socket),
            stopped: Arc::clone(&self.stopped),
        }
    }

    /// Waits for datagrams, then answers each one received with what `answer` returns for its
    /// source and payload (`None`: no reply), and sends the replies together. `Ok(false)` once
    /// the socket was stopped: what had been received by then is still answered.
    ///
    /// # Errors
    /// [`BatchError`]: the receive failed, or one of the replies could not be sent.
    pub fn answer_batch(
        &mut self,
        mut answer: impl FnMut(SocketAddr, &[u8]) -> Option<Vec<u8>>,
    ) -> Result<bool, BatchError> {
        loop {
            match self.received.fill_blocking(&self.socket) {
                Ok(()) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(BatchError::Receive(error)),
            }
        }
        while let Some((request, from)) = self.received.pop() {
            if let Some(reply) = answer(from, request) {
                self.replies.push((from, reply));
            }
        }
        self.failed.clear();
        send_all(
            &self.socket,
            &mut self.replies,
            &self.segmentation,
            &mut self.failed,
        )
        .map_err(BatchError::Send)?;
        Ok(!self.stopped.load(Ordering::Acquire))
    }

    /// The clients of the last [`answer_batch`](Self::answer_batch) whose replies the system
    /// refused to send (a broadcast address, a firewall): empty unless it returned
    /// [`BatchError::Send`]. A client named here had at least one reply of that batch refused.
    pub fn unsent(&self) -> &[SocketAddr] {
        &self.failed
    }
}

impl UdpStopper {
    /// Makes the socket's [`answer_batch`](BlockingUdp::answer_batch) return `Ok(false)`: at
    /// once if it is waiting, or after the batch it is serving.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        // On a socket that is not connected Linux reports ENOTCONN, but it does mark the socket
        // shut and wakes its readers, which is all this is for: a receive that waits, or one
        // that comes later, returns at once.
        if let Some(socket) = self.socket.upgrade() {
            let _ = socket.shutdown(Shutdown::Read);
        }
    }
}

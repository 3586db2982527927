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
use std::net::{Shutdown, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use socket2::SockRef;

use crate::batch::{Answer, Batch, Datagram, FIRST_WAITS, Unsent};
use crate::error::TransportError;
use crate::server::ServerSocket;
use crate::udp_server::BatchError;
use crate::{BoundSocket, Udp};

/// A bound UDP socket answered batch by batch on the calling thread; see the module docs.
#[derive(Debug)]
pub struct BlockingUdp {
    /// The socket, blocking, lent to its stopper.
    socket: Arc<UdpSocket>,
    /// Set by the stopper before it shuts the socket down.
    stopped: Arc<AtomicBool>,
    /// The datagrams of the current batch and their replies.
    batch: Batch,
}

/// Tells a [`BlockingUdp`] to return from its wait and stop; see [`BlockingUdp::stopper`].
#[derive(Debug, Clone)]
pub struct UdpStopper {
    /// Weak, so that the socket closes, and its port is free, as soon as its server returns.
    socket: Weak<UdpSocket>,
    stopped: Arc<AtomicBool>,
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
        let socket = UdpSocket::from(socket);
        Ok(Self {
            batch: Batch::new(&socket),
            socket: Arc::new(socket),
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A handle that stops this socket from another thread.
    pub fn stopper(&self) -> UdpStopper {
        UdpStopper {
            socket: Arc::downgrade(&self.socket),
            stopped: Arc::clone(&self.stopped),
        }
    }

    /// Waits for datagrams, then answers each one received with the [`Answer`] `answer` gives
    /// for its [`Datagram`], and sends the replies together, each from the address its request
    /// was sent to. `Ok(false)` once the socket was stopped: what had been received by then is
    /// still answered.
    ///
    /// # Errors
    /// [`BatchError`]: the receive failed, or one of the replies could not be sent.
    pub fn answer_batch(
        &mut self,
        answer: impl FnMut(Datagram<'_>) -> Answer,
    ) -> Result<bool, BatchError> {
        loop {
            match self.batch.receive(&*self.socket, FIRST_WAITS) {
                Ok(_) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(BatchError::Receive(error)),
            }
        }
        self.batch.answer(answer);
        // A blocking socket waits for room rather than refusing for want of it.
        if let Err(error) = self.batch.send(&*self.socket) {
            self.batch.give_up(error);
        }
        match self.batch.take_refusal() {
            Some(error) => Err(BatchError::Send(error)),
            None => Ok(!self.stopped.load(Ordering::Acquire)),
        }
    }

    /// The replies of the last [`answer_batch`](Self::answer_batch) that did not leave, each
    /// by its place among the replies its closure gave: empty unless it returned
    /// [`BatchError::Send`]. Every other reply left.
    pub fn unsent(&self) -> &[Unsent] {
        self.batch.unsent()
    }
}

impl ServerSocket for BlockingUdp {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
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
            let _ = SockRef::from(&*socket).shutdown(Shutdown::Read);
        }
    }
}

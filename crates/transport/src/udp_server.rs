//! [`UdpServer`]: a UDP server socket served by the event loop, batch by batch.

use std::io;
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::net::UdpSocket;

use crate::batch::{Answer, Batch, Datagram, NO_WAIT, Unsent};
use crate::server::ServerSocket;

/// A bound UDP server socket on the event loop: each [`answer_batch`](Self::answer_batch)
/// takes the datagrams queued on it, up to a batch, and sends their replies together.
///
/// On Linux the server serves its UDP sockets with [`BlockingUdp`](crate::BlockingUdp), on a
/// thread of their own; this one is for where a runtime must serve the socket (inetd's socket,
/// other systems).
#[derive(Debug)]
pub struct UdpServer {
    socket: UdpSocket,
    /// The datagrams of the current batch and their replies.
    batch: Batch,
}

/// Why a batch could not be served in full.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Nothing was received, so nothing was answered; the socket may still serve.
    #[error("cannot receive datagrams: {0}")]
    Receive(#[source] io::Error),
    /// A reply could not be sent (the first such of the batch); the batch's other replies
    /// were. `unsent()` says which.
    #[error("cannot send a reply: {0}")]
    Send(#[source] io::Error),
}

impl UdpServer {
    pub(crate) fn new(socket: UdpSocket) -> Self {
        Self {
            batch: Batch::new(&socket),
            socket,
        }
    }

    /// Waits for datagrams, then answers each one received with the [`Answer`] `answer` gives
    /// for its [`Datagram`], and sends the replies together, each from the address its request
    /// was sent to.
    ///
    /// Cancel safe: dropped while it waits for datagrams, it has taken none; dropped while it
    /// waits for room to send, the replies left go at the next call, or when the server is
    /// dropped.
    ///
    /// Returns `Ok(true)`, as [`BlockingUdp::answer_batch`](crate::BlockingUdp::answer_batch)
    /// does while its socket serves: one type for both drivers. (This socket is stopped by
    /// dropping the call, never from elsewhere, so it never says `Ok(false)`.)
    ///
    /// # Errors
    /// [`BatchError`]: the receive failed, or one of the replies could not be sent.
    pub async fn answer_batch(
        &mut self,
        answer: impl FnMut(Datagram<'_>) -> Answer,
    ) -> Result<bool, BatchError> {
        if self.batch.waiting() {
            let _ = self.send().await;
        }
        let Self { socket, batch } = self;
        let took = socket
            .async_io(Interest::READABLE, || batch.receive(socket, NO_WAIT))
            .await
            .map_err(BatchError::Receive)?;
        if took == 1 && cfg!(target_os = "linux") {
            // A lone datagram: the queue is empty, and the client is likely waiting for this
            // reply before it sends again. Forget the readiness now, so that the next wait goes
            // to epoll rather than through a receive that would block. (Under load, a receive
            // finds new datagrams often enough to be worth trying.) A datagram that came
            // meanwhile raises a new event, which this does not clear.
            let _ = socket.try_io(Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
        batch.answer(answer);
        self.send().await.map(|()| true)
    }

    /// Sends the batch's replies, waiting for room in the socket when there is none.
    async fn send(&mut self) -> Result<(), BatchError> {
        let Self { socket, batch } = self;
        if let Err(error) = socket
            .async_io(Interest::WRITABLE, || batch.send(socket))
            .await
        {
            batch.give_up(error);
        }
        batch
            .take_refusal()
            .map_or(Ok(()), |error| Err(BatchError::Send(error)))
    }

    /// The replies of the last [`answer_batch`](Self::answer_batch) that did not leave, each
    /// by its place among the replies its closure gave: empty unless it returned
    /// [`BatchError::Send`]. Every other reply left.
    pub fn unsent(&self) -> &[Unsent] {
        self.batch.unsent()
    }
}

impl ServerSocket for UdpServer {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }
}

impl Drop for UdpServer {
    /// Replies still waiting for room go if the socket takes them now.
    fn drop(&mut self) {
        let _ = self.batch.send(&self.socket);
    }
}

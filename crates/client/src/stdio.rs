//! [`RawStdin`] and [`RawStdout`]: the process's standard input and output as the runtime's
//! reader and writer, for the pipe mode of every transport.
//!
//! tokio's own hand every read and write to a thread of its blocking pool and back: two
//! futex wake-ups a chunk, and a thread started before the first byte of a one-shot message.
//! These read and write on the runtime's thread whenever `poll` says the descriptor is ready
//! (always, for a file), which is nearly every time under a stream; only a descriptor that is
//! not ready (a pipe whose writer pauses, a reader that lags) is waited for on the blocking
//! pool, as socat waits in `select`. The descriptors stay as they were handed over (blocking):
//! they may be shared with other processes, which would see any change of mode.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::JoinHandle;

/// The most one write of standard output takes: a pipe's whole buffer, so that a write whose
/// reader lags waits for one buffer to drain rather than several, and the socket is read
/// meanwhile.
const WRITE_MOST: usize = 64 * 1024;

/// Standard input, read on the runtime's thread once it has bytes.
#[derive(Debug, Default)]
pub(crate) struct RawStdin {
    waiting: Waiting,
}

/// Standard output, written on the runtime's thread once it has room, bytes as they are.
#[derive(Debug, Default)]
pub(crate) struct RawStdout {
    waiting: Waiting,
}

impl AsyncRead for RawStdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stdin = io::stdin();
        loop {
            ready!(self.waiting.poll_ready(cx, Std::In, PollFlags::POLLIN))?;
            match nix::unistd::read(stdin.as_fd(), buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // A descriptor left non-blocking by whoever handed it over: wait again.
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(errno) => return Poll::Ready(Err(errno.into())),
            }
        }
    }
}

impl AsyncWrite for RawStdout {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stdout = io::stdout();
        loop {
            ready!(self.waiting.poll_ready(cx, Std::Out, PollFlags::POLLOUT))?;
            // Straight to the descriptor: std's stdout is line-buffered, and would keep each
            // chunk's last partial line to write apart, a second system call per chunk.
            let buf = &buf[..buf.len().min(WRITE_MOST)];
            match nix::unistd::write(stdout.as_fd(), buf) {
                Ok(0) if !buf.is_empty() => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(errno) => return Poll::Ready(Err(errno.into())),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Which of the two a wait is for.
#[derive(Debug, Clone, Copy)]
enum Std {
    In,
    Out,
}

impl Std {
    /// Whether the descriptor has `events` (or an error or hang-up) within `timeout`.
    fn ready(self, events: PollFlags, timeout: PollTimeout) -> io::Result<bool> {
        match self {
            Std::In => ready_within(io::stdin().as_fd(), events, timeout),
            Std::Out => ready_within(io::stdout().as_fd(), events, timeout),
        }
    }
}

/// A wait for a descriptor on the blocking pool, once `poll` has found it not ready.
#[derive(Debug, Default)]
struct Waiting(Option<JoinHandle<io::Result<bool>>>);

impl Waiting {
    /// Ready once `which` has `events` (or an error or hang-up, which the read or write then
    /// reports): at once if it has them now, else when the blocking pool's `poll` says so.
    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        which: Std,
        events: PollFlags,
    ) -> Poll<io::Result<()>> {
        loop {
            if let Some(wait) = &mut self.0 {
                let waited = ready!(Pin::new(wait).poll(cx));
                self.0 = None;
                waited.map_err(io::Error::other)??;
            }
            if which.ready(events, PollTimeout::ZERO)? {
                return Poll::Ready(Ok(()));
            }
            self.0 = Some(tokio::task::spawn_blocking(move || {
                which.ready(events, PollTimeout::NONE)
            }));
        }
    }
}

/// Whether `fd` has `events` (or an error or hang-up) within `timeout`.
fn ready_within(fd: BorrowedFd<'_>, events: PollFlags, timeout: PollTimeout) -> io::Result<bool> {
    let mut fds = [PollFd::new(fd, events)];
    loop {
        match poll(&mut fds, timeout) {
            Ok(0) => return Ok(false),
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno.into()),
        }
    }
}

//! The TCP pipe mode: standard input streamed through one connection, the replies to standard
//! output as they come, on one thread that waits in `poll` as socat waits in `select`.
//!
//! Both directions move at once, so that neither side ever waits on the other and a stream of
//! any size passes in bounded memory: one buffer of [`PIPE_CHUNK`] bytes each way. Going through
//! the runtime instead, every read of stdin and write of stdout was handed to a blocking thread
//! and back, two futex wake-ups for each 8 KiB; and a thread per direction, on a machine whose
//! cores the server needs too, costs switches between them.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsFd;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use upcase_transport::TransportError;

use crate::output::Show;
use crate::visible::Visible;

/// Bytes moved by one read: large enough that a gigabyte costs few system calls, small enough
/// to sit in the cache.
const PIPE_CHUNK: usize = 128 * 1024;

/// Why the pipe stopped early.
#[derive(Debug)]
pub(crate) enum PipeError {
    /// Standard input could not be read.
    Input(io::Error),
    /// Standard output could not be written (its reader going away included).
    Output(io::Error),
    /// The connection failed.
    Network(TransportError),
}

fn network(error: io::Error) -> PipeError {
    PipeError::Network(error.into())
}

/// Streams standard input to `stream` and its replies to standard output, until the server
/// has closed (after the end of the input, as it does once it has answered everything).
///
/// # Errors
/// [`PipeError`], saying which end failed.
pub(crate) fn stream_stdio(mut stream: TcpStream, show: Show) -> Result<(), PipeError> {
    let mut shown = Shown::new(show);
    stream.set_nonblocking(true).map_err(network)?;
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = vec![0; PIPE_CHUNK];
    let mut replies = vec![0; PIPE_CHUNK];
    // Input read and not yet sent: `input[sent..read]`.
    let (mut read, mut sent) = (0, 0);
    let mut input_open = true;
    loop {
        // Once the input has ended and all of it is sent, the server's end of stream is what is
        // left to wait for.
        let waiting_input = read == sent;
        let Some(Ready {
            socket_in,
            socket_out,
            stdin_in,
        }) = wait(&stream, &stdin, !waiting_input, waiting_input && input_open)?
        else {
            continue;
        };
        if socket_in {
            match stream.read(&mut replies) {
                Ok(0) => return shown.finish(&stdout).map_err(PipeError::Output),
                Ok(n) => shown
                    .write(&stdout, &replies[..n])
                    .map_err(PipeError::Output)?,
                Err(error) if retry(&error) => {}
                Err(error) => return Err(network(error)),
            }
        }
        if stdin_in {
            match stdin.lock().read(&mut input) {
                Ok(0) => {
                    input_open = false;
                    stream.shutdown(Shutdown::Write).map_err(network)?;
                }
                Ok(n) => (read, sent) = (n, 0),
                // A descriptor left non-blocking by whoever handed it over.
                Err(error) if retry(&error) => {}
                Err(error) => return Err(PipeError::Input(error)),
            }
        }
        // Sent at once after the read, without a poll between: the socket usually has room.
        if sent < read && (socket_out || stdin_in) {
            match io::Write::write(&mut stream, &input[sent..read]) {
                Ok(n) => sent += n,
                Err(error) if retry(&error) => {}
                Err(error) => return Err(network(error)),
            }
        }
    }
}

/// Replies on their way to standard output: as they are, or, on a terminal, made visible.
struct Shown(Option<(Visible, Vec<u8>)>);

impl Shown {
    fn new(show: Show) -> Self {
        Shown(match show {
            Show::Raw => None,
            Show::Visible => Some((Visible::default(), Vec::with_capacity(2 * PIPE_CHUNK))),
        })
    }

    fn write(&mut self, stdout: &io::Stdout, replies: &[u8]) -> io::Result<()> {
        match &mut self.0 {
            None => write_all(stdout, replies),
            Some((visible, out)) => {
                out.clear();
                visible.feed(replies, out);
                write_all(stdout, out)
            }
        }
    }

    /// Writes what the end of the stream leaves: a UTF-8 sequence it cut off.
    fn finish(&mut self, stdout: &io::Stdout) -> io::Result<()> {
        match &mut self.0 {
            None => Ok(()),
            Some((visible, out)) => {
                out.clear();
                visible.finish(out);
                write_all(stdout, out)
            }
        }
    }
}

/// Which ends [`wait`] found ready.
struct Ready {
    socket_in: bool,
    socket_out: bool,
    stdin_in: bool,
}

/// Waits in `poll` for the socket to have replies (or room, if `send`), or for standard input
/// to have bytes (if `take_input`); `None` when a signal interrupted the wait.
fn wait(
    stream: &TcpStream,
    stdin: &io::Stdin,
    send: bool,
    take_input: bool,
) -> Result<Option<Ready>, PipeError> {
    let mut socket_events = PollFlags::POLLIN;
    if send {
        socket_events |= PollFlags::POLLOUT;
    }
    let mut fds = vec![PollFd::new(stream.as_fd(), socket_events)];
    if take_input {
        fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) => {}
        Err(Errno::EINTR) => return Ok(None),
        Err(errno) => return Err(network(errno.into())),
    }
    let ready = |fd: &PollFd, what: PollFlags| {
        fd.revents().is_some_and(|events| {
            events.intersects(what | PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        })
    };
    Ok(Some(Ready {
        socket_in: ready(&fds[0], PollFlags::POLLIN),
        socket_out: ready(&fds[0], PollFlags::POLLOUT),
        stdin_in: fds.get(1).is_some_and(|fd| ready(fd, PollFlags::POLLIN)),
    }))
}

/// Whether a socket call should simply be tried again later.
fn retry(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Writes all of `bytes` to standard output, with no buffer between: std's stdout is
/// line-buffered, and would keep each chunk's last partial line to write apart, a second
/// system call per chunk.
fn write_all(stdout: &io::Stdout, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(stdout, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            // A descriptor left non-blocking by whoever handed it over: wait until it has room.
            Err(Errno::EAGAIN) => {
                let mut fds = [PollFd::new(stdout.as_fd(), PollFlags::POLLOUT)];
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(errno) => return Err(errno.into()),
                }
            }
            Err(errno) => return Err(errno.into()),
        }
    }
    Ok(())
}

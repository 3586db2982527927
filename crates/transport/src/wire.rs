//! [`Wire`]: a stream connection driven by hand, as a load generator's loop drives many at
//! once: plain TCP straight from the socket, TLS through [`TlsWire`](crate::TlsWire).

use std::io;

use tokio::net::TcpStream;

use crate::tcp::read_now;

/// A connection read and written only when its socket is ready, never waiting inside a call.
pub trait Wire {
    /// The socket under it, to wait on.
    fn socket(&self) -> &TcpStream;

    /// Takes what it can of `bytes` now; 0 when the socket is full.
    ///
    /// # Errors
    /// The connection failed.
    fn send(&mut self, bytes: &[u8]) -> io::Result<usize>;

    /// Whether bytes it took wait to go out (TLS records the socket did not yet take).
    fn backlog(&self) -> bool;

    /// Sends what waits, as far as the socket takes it.
    ///
    /// # Errors
    /// The connection failed.
    fn flush(&mut self) -> io::Result<()>;

    /// Appends to `into` what came: `None` when nothing did, `Some(0)` at the end.
    ///
    /// # Errors
    /// The connection failed, or TLS found a record it cannot take.
    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<Option<usize>>;
}

impl Wire for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }

    #[inline]
    fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self.try_write(bytes) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => Ok(0),
            written => written,
        }
    }

    fn backlog(&self) -> bool {
        false
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    #[inline]
    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<Option<usize>> {
        // A read that leaves room took all there was, so it also tells tokio the socket is
        // drained: a system call fewer a reply (see `read_now`).
        read_now(self, into)
    }
}

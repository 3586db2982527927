//! [`TlsWire`]: a TLS connection driven by hand over a non-blocking socket, so that a
//! persistent connection's loop reads and writes TLS by turns as it does TCP.
//!
//! tokio-rustls makes the handshake; the loop then takes the rustls connection and the socket
//! apart, moving records between them only when the socket is ready.

use std::io::{self, Read, Write};

use rustls::ClientConnection;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::wire::Wire;

/// A TLS client connection and its socket, after the handshake.
#[derive(Debug)]
pub struct TlsWire {
    tcp: TcpStream,
    tls: ClientConnection,
}

impl From<TlsStream<TcpStream>> for TlsWire {
    /// The connection [`TlsWrap`](crate::TlsWrap) made, taken apart to be driven by hand.
    fn from(stream: TlsStream<TcpStream>) -> Self {
        let (tcp, tls) = stream.into_inner();
        Self { tcp, tls }
    }
}

/// The socket as `std::io` sees it: "would block" when it is not ready.
struct Nonblocking<'a>(&'a TcpStream);

impl Read for Nonblocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for Nonblocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    // rustls hands over its records as a list: one system call for all of them.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Wire for TlsWire {
    fn socket(&self) -> &TcpStream {
        &self.tcp
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // Requests are sealed only once the records before them are out, so that a full socket
        // holds them back as it does over TCP, instead of in an ever longer queue of records.
        let taken = if self.tls.wants_write() {
            0
        } else {
            self.tls.writer().write(bytes)?
        };
        self.flush()?;
        Ok(taken)
    }

    fn backlog(&self) -> bool {
        self.tls.wants_write()
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut Nonblocking(&self.tcp)) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let ended = match self.tls.read_tls(&mut Nonblocking(&self.tcp)) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(error) => return Err(error),
        };
        let state = self
            .tls
            .process_new_packets()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
        // An alert or a key update may want an answer.
        self.flush()?;
        let waiting = state.plaintext_bytes_to_read();
        if waiting > 0 {
            let start = into.len();
            into.resize(start + waiting, 0);
            self.tls.reader().read_exact(&mut into[start..])?;
            return Ok(Some(waiting));
        }
        if ended || state.peer_has_closed() {
            return Ok(Some(0));
        }
        // Part of a record, or a record with nothing for the reader (a session ticket).
        Ok(None)
    }
}

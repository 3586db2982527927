//! Connection per request, as the textbook's client does: connect, send, end the request,
//! read the reply to the end; over TLS, a handshake on each connection, full or resumed; over
//! QUIC, a connection and its one stream. [`Dial`] is how each transport makes one exchange.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use upcase_transport::{Wrap, Wrapped};

use crate::load::{Load, Schedule, Sending};
use crate::pacer::{Pacer, pace};
use crate::payload::Checker;
use crate::tally::Shard;

/// One request on a connection of its own: how a transport makes it.
pub(crate) trait Dial {
    /// Connects to `addr`, sends `req`, ends it, and reads the reply into `reply`; counts the
    /// handshake, if the transport has one.
    fn exchange(
        &self,
        addr: SocketAddr,
        load: &Load,
        req: &[u8],
        reply: &mut Vec<u8>,
        shard: &Shard,
    ) -> impl std::future::Future<Output = io::Result<()>>;
}

impl<W: Wrap> Dial for W {
    fn exchange(
        &self,
        addr: SocketAddr,
        load: &Load,
        req: &[u8],
        reply: &mut Vec<u8>,
        shard: &Shard,
    ) -> impl std::future::Future<Output = io::Result<()>> {
        exchange(self, addr, load, req, reply, shard)
    }
}

/// Requests one at a time, each on a connection of its own made by `dial`. The round trip
/// includes the connection's set-up: TCP's handshake, and TLS's over it, or QUIC's.
pub(crate) async fn reconnecting(
    dial: &impl Dial,
    addr: SocketAddr,
    load: &Load,
    schedule: Schedule,
    shard: &Shard,
) -> io::Result<()> {
    let mut checker = Checker::new(load.check);
    let mut req = Vec::with_capacity(load.size);
    let mut reply = Vec::with_capacity(load.size);
    let mut sending = Sending::new(schedule);
    let mut pacer = Pacer::for_schedule(&schedule)?;
    loop {
        let mut taken = None;
        sending.queue_due(load, Instant::now(), shard, 1, |seq, due| {
            taken = Some((seq, due))
        });
        let Some((seq, due)) = taken else {
            if sending.ended {
                break;
            }
            // Open loop, and not yet due: wait for its time, or for the end of the run.
            let wake = sending
                .next_due(1)
                .map(|due| load.deadline.map_or(due, |end| due.min(end)));
            pace(&mut pacer, wake).await?;
            continue;
        };
        checker.request(seq, load.size, &mut req);
        let sent = Instant::now();
        let exchange = dial.exchange(addr, load, &req, &mut reply, shard);
        match timeout(load.timeout, exchange).await {
            Ok(Ok(())) => {
                let right = checker.check(seq, load.size, &reply);
                shard.reply(right, due, sent, Instant::now());
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => shard.lost(1),
        }
    }
    sending.finish(load, shard);
    Ok(())
}

/// One request on a new connection; its handshake, if it had one, is counted.
async fn exchange(
    wrap: &impl Wrap,
    addr: SocketAddr,
    load: &Load,
    req: &[u8],
    reply: &mut Vec<u8>,
    shard: &Shard,
) -> io::Result<()> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let Wrapped {
        mut stream,
        handshake,
    } = wrap
        .wrap(tcp, addr, load.timeout)
        .await
        .map_err(|error| io::Error::other(error.to_string()))?;
    if let Some(handshake) = handshake {
        shard.handshake(handshake.resumed);
    }
    stream.write_all(req).await?;
    // Over TLS, close_notify and then TCP's half-close: either ends the request.
    stream.shutdown().await?;
    read_reply(&mut stream, load.size, reply).await
}

/// Reads a reply of `size` bytes into `reply`: whole once all its bytes are in, whether or not
/// the server then closes (an echo server may wait for the client to close first), or cut short
/// by the server's end of stream.
async fn read_reply(
    stream: &mut (impl AsyncRead + Unpin),
    size: usize,
    reply: &mut Vec<u8>,
) -> io::Result<()> {
    reply.clear();
    reply.resize(size, 0);
    let mut got = 0;
    while got < size {
        match stream.read(&mut reply[got..]).await {
            Ok(0) => break,
            Ok(n) => got += n,
            // A TLS server that closes without close_notify after the whole reply has still
            // answered; one that does so before it has cut the reply short.
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(error) => return Err(error),
        }
    }
    reply.truncate(got);
    Ok(())
}

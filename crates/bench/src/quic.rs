//! QUIC load: a connection with `--window` streams in flight, one request each, or (with
//! `--reconnect`) a connection per request.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use quinn::{Connection, Endpoint};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use crate::load::{Load, Schedule, Sending};
use crate::pacer::{Pacer, pace};
use crate::payload::Checker;
use crate::reconnect::Dial;
use crate::tally::Shard;

/// How to reach a QUIC server: the client configuration and the name its certificate is for;
/// and, once made, the endpoint a worker's connections per request all leave from.
pub(crate) struct QuicDial {
    pub(crate) config: quinn::ClientConfig,
    pub(crate) name: String,
    pub(crate) endpoint: std::cell::OnceCell<Endpoint>,
}

impl Clone for QuicDial {
    /// The same configuration, with no endpoint yet: each worker makes its own.
    fn clone(&self) -> Self {
        Self {
            config: self.config.clone(),
            name: self.name.clone(),
            endpoint: std::cell::OnceCell::new(),
        }
    }
}

impl std::fmt::Debug for QuicDial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicDial")
            .field("name", &self.name)
            .finish()
    }
}

impl QuicDial {
    /// An endpoint for connections to `addr`'s address family.
    fn new_endpoint(&self, addr: SocketAddr) -> io::Result<Endpoint> {
        let local: SocketAddr = match addr {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        Endpoint::client(local)
    }

    /// A connection to `addr` within `limit`, from an endpoint of its own.
    pub(crate) async fn connect(
        &self,
        addr: SocketAddr,
        limit: Duration,
    ) -> io::Result<(Endpoint, Connection)> {
        let endpoint = self.new_endpoint(addr)?;
        let connecting = endpoint
            .connect_with(self.config.clone(), addr, &self.name)
            .map_err(io::Error::other)?;
        let connection = timeout(limit, connecting)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no QUIC handshake in time"))?
            .map_err(io::Error::other)?;
        Ok((endpoint, connection))
    }
}

impl Dial for QuicDial {
    async fn exchange(
        &self,
        addr: SocketAddr,
        load: &Load,
        req: &[u8],
        reply: &mut Vec<u8>,
        shard: &Shard,
    ) -> io::Result<()> {
        // One endpoint for all of a worker's connections, as a client reconnecting would
        // keep its socket: a new one per request would measure the socket's making too.
        let endpoint = match self.endpoint.get() {
            Some(endpoint) => endpoint,
            None => {
                let endpoint = self.new_endpoint(addr)?;
                self.endpoint.get_or_init(|| endpoint)
            }
        };
        let connecting = endpoint
            .connect_with(self.config.clone(), addr, &self.name)
            .map_err(io::Error::other)?;
        let connection = connecting.await.map_err(io::Error::other)?;
        shard.handshake(false);
        *reply = one_exchange(&connection, req.to_vec(), load.size).await?;
        connection.close(0u32.into(), b"done");
        Ok(())
    }
}

/// A reply to `req` on a new stream of `connection`: its first `size` bytes, or what came
/// before the server finished.
async fn one_exchange(connection: &Connection, req: Vec<u8>, size: usize) -> io::Result<Vec<u8>> {
    let (mut send, mut recv) = connection.open_bi().await?;
    send.write_all(&req).await?;
    let _ = send.finish();
    let mut reply = vec![0; size];
    let mut got = 0;
    while got < size {
        match recv.read(&mut reply[got..]).await? {
            Some(n) => got += n,
            None => break,
        }
    }
    reply.truncate(got);
    Ok(reply)
}

/// One finished exchange: its request's number and times, and the reply, or `None` if lost.
struct Done {
    seq: u64,
    due: Instant,
    sent: Instant,
    reply: Option<Vec<u8>>,
}

/// One persistent connection with up to `--window` streams in flight, until the run ends and
/// their replies are in or lost.
pub(crate) async fn connection(
    connection: Connection,
    load: &Load,
    schedule: Schedule,
    shard: &Shard,
) -> io::Result<()> {
    let mut sending = Sending::new(schedule);
    let mut pacer = Pacer::for_schedule(&schedule)?;
    let mut flights: JoinSet<Done> = JoinSet::new();
    let mut checker = Checker::new(load.check);
    let mut req = Vec::with_capacity(load.size);
    loop {
        let now = Instant::now();
        let free = load.window - flights.len();
        sending.queue_due(load, now, shard, free, |seq, due| {
            checker.request(seq, load.size, &mut req);
            let (connection, req, size, wait) =
                (connection.clone(), req.clone(), load.size, load.timeout);
            flights.spawn_local(async move {
                let reply = timeout(wait, one_exchange(&connection, req, size)).await;
                let reply = reply.ok().and_then(Result::ok);
                Done {
                    seq,
                    due,
                    sent: now,
                    reply,
                }
            });
        });
        if sending.ended && flights.is_empty() {
            sending.finish(load, shard);
            return Ok(());
        }
        let wake = sending
            .next_due(load.window - flights.len())
            .map(|due| load.deadline.map_or(due, |end| due.min(end)));
        tokio::select! {
            Some(done) = flights.join_next(), if !flights.is_empty() => {
                let done = done.map_err(|error| io::Error::other(error.to_string()))?;
                match done.reply {
                    Some(reply) => {
                        let right = checker.check(done.seq, load.size, &reply);
                        shard.reply(right, done.due, done.sent, Instant::now());
                    }
                    None => shard.lost(1),
                }
            }
            rung = pace(&mut pacer, wake), if wake.is_some() => rung?,
            () = tokio::time::sleep_until(load.deadline.unwrap_or(load.start + crate::load::FAR)),
                if flights.is_empty() && wake.is_none() => {}
        }
    }
}

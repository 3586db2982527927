//! TCP load: a window of requests in flight on one connection, or a connection per request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::{Instant, timeout, timeout_at};

use crate::command::Run;
use crate::payload::{Checker, request};
use crate::report::Tally;

/// One connection: the writer keeps `window` requests in flight; the reader matches replies to
/// requests in order (TCP keeps them in order) and frees a slot for each. Reading and writing
/// at once keeps a large window from filling both socket buffers and stalling.
pub(crate) async fn connection(addr: SocketAddr, run: Arc<Run>) -> std::io::Result<Tally> {
    // A server with a short listen queue makes some handshakes wait for a SYN retry: wait,
    // but not past the end of the run.
    let connect = TcpStream::connect(addr);
    let stream = match run.deadline {
        Some(deadline) => timeout_at(deadline, connect).await.map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no connection was set up before the run ended",
            )
        })??,
        None => connect.await?,
    };
    stream.set_nodelay(true)?;
    let (mut from_server, mut to_server) = stream.into_split();
    let slots = Arc::new(Semaphore::new(run.window));
    let in_flight = Arc::new(Mutex::new(VecDeque::<(u64, Instant)>::new()));

    let writer = {
        let (slots, in_flight, run) =
            (Arc::clone(&slots), Arc::clone(&in_flight), Arc::clone(&run));
        async move {
            let mut req = Vec::with_capacity(run.size);
            let mut seq = 0;
            loop {
                // Closed when the reader gives up: then stop sending.
                let Ok(slot) = slots.acquire().await else {
                    break;
                };
                slot.forget();
                // Taken under the lock, so that the reader never sees the run's last request
                // taken but not yet in flight.
                {
                    let mut pending = in_flight.lock().await;
                    if !run.take_request() {
                        break;
                    }
                    // Recorded before sending, so the reader always finds it.
                    pending.push_back((seq, Instant::now()));
                }
                request(seq, run.size, &mut req);
                // A server that stops reading is the reader's to count; don't wait on it forever.
                match timeout(run.timeout, to_server.write_all(&req)).await {
                    Ok(written) => written?,
                    Err(_elapsed) => break,
                }
                seq += 1;
            }
            std::io::Result::Ok(to_server)
        }
    };
    let reader = {
        let run = Arc::clone(&run);
        let slots = Arc::clone(&slots);
        async move {
            let mut tally = Tally::new();
            let mut checker = Checker::default();
            let mut req = Vec::with_capacity(run.size);
            let mut replies = Vec::with_capacity(2 * run.size);
            let mut buf = vec![0; run.size.max(64 * 1024)];
            loop {
                let (pending, ended) = {
                    let pending = in_flight.lock().await;
                    (pending.len(), run.sending_ended())
                };
                if pending == 0 && ended {
                    return std::io::Result::Ok(tally);
                }
                let n = match timeout(run.timeout, from_server.read(&mut buf)).await {
                    Ok(read) => read?,
                    Err(_) => {
                        tally.lost += pending as u64;
                        return Ok(tally);
                    }
                };
                if n == 0 {
                    tally.lost += pending as u64;
                    return Ok(tally);
                }
                replies.extend_from_slice(&buf[..n]);
                let mut taken = 0;
                while replies.len() - taken >= run.size {
                    let Some((seq, sent)) = in_flight.lock().await.pop_front() else {
                        tally.wrong += 1; // A reply to nothing.
                        return Ok(tally);
                    };
                    request(seq, run.size, &mut req);
                    let right = checker.check(&req, &replies[taken..taken + run.size]);
                    tally.reply(right, sent.elapsed());
                    run.count_reply();
                    taken += run.size;
                    slots.add_permits(1);
                }
                replies.drain(..taken);
            }
        }
    };
    let reader = async {
        let tally = reader.await;
        slots.close();
        tally
    };
    let (written, tally) = tokio::join!(writer, reader);
    // The writer's error matters only if the reader did not already account for it.
    let tally = tally?;
    written?;
    Ok(tally)
}

/// Connection per request, as the textbook's client does: connect, send, close the sending
/// side, read the reply to the end. The round trip includes the handshake.
pub(crate) async fn reconnecting(addr: SocketAddr, run: Arc<Run>) -> std::io::Result<Tally> {
    let mut tally = Tally::new();
    let mut checker = Checker::default();
    let mut req = Vec::with_capacity(run.size);
    let mut reply = Vec::with_capacity(run.size);
    let mut seq = 0;
    while run.take_request() {
        request(seq, run.size, &mut req);
        seq += 1;
        let started = Instant::now();
        let exchange = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            stream.write_all(&req).await?;
            stream.shutdown().await?;
            read_reply(&mut stream, run.size, &mut reply).await
        };
        match timeout(run.timeout, exchange).await {
            Ok(Ok(_)) => {
                tally.reply(checker.check(&req, &reply), started.elapsed());
                run.count_reply();
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => tally.lost += 1,
        }
    }
    Ok(tally)
}

/// Reads a reply of `size` bytes into `reply`: whole once all its bytes are in, whether or not
/// the server then closes (an echo server may wait for the client to close first), or cut short
/// by the server's end of stream.
async fn read_reply(
    stream: &mut TcpStream,
    size: usize,
    reply: &mut Vec<u8>,
) -> std::io::Result<()> {
    reply.clear();
    reply.resize(size, 0);
    let mut got = 0;
    while got < size {
        match stream.read(&mut reply[got..]).await? {
            0 => break,
            n => got += n,
        }
    }
    reply.truncate(got);
    Ok(())
}

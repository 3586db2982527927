//! UDP load: a window of datagrams in flight on one socket; a reply that does not come within
//! the timeout is counted lost and its slot reused.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

use crate::command::Run;
use crate::payload::{Checker, request, sequence};
use crate::report::Tally;

pub(crate) async fn socket(addr: SocketAddr, run: Arc<Run>) -> std::io::Result<Tally> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(addr).await?;
    let mut tally = Tally::new();
    let mut checker = Checker::default();
    let mut in_flight: HashMap<u64, Instant> = HashMap::new();
    let mut req = Vec::with_capacity(run.size);
    let mut buf = vec![0; 65_536];
    let mut seq = 0;
    loop {
        // Keep the window full until the end, then wait for what is still out.
        while in_flight.len() < run.window && run.take_request() {
            request(seq, run.size, &mut req);
            in_flight.insert(seq, Instant::now());
            socket.send(&req).await?;
            seq += 1;
        }
        if in_flight.is_empty() {
            return Ok(tally);
        }
        let oldest = in_flight
            .values()
            .min()
            .copied()
            .unwrap_or_else(Instant::now);
        let wait = (oldest + run.timeout).saturating_duration_since(Instant::now());
        match timeout(wait, socket.recv(&mut buf)).await {
            Ok(received) => {
                let reply = &buf[..received?];
                let Some(seq) = sequence(reply) else {
                    tally.wrong += 1; // Its number is gone: not an answer to any request.
                    continue;
                };
                // A late reply to a request already counted lost matches nothing: ignore it.
                let Some(sent) = in_flight.remove(&seq) else {
                    continue;
                };
                request(seq, run.size, &mut req);
                tally.reply(checker.check(&req, reply), sent.elapsed());
                run.count_reply();
            }
            Err(_) => {
                let now = Instant::now();
                let before = in_flight.len();
                in_flight.retain(|_, sent| now.duration_since(*sent) < run.timeout);
                tally.lost += (before - in_flight.len()) as u64;
            }
        }
    }
}

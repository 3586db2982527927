//! [`within`]: a TLS handshake, on either side, under its deadline, its failure by kind and in
//! words.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::timeout;

use crate::error::TransportError;
use crate::tls_failure::{Diagnosis, HandshakeFailure, classify};

/// The handshake `shaking` with `addr`, given `limit`: its stream, or its failure by kind and
/// in words, `late` saying what running out of time means to this side.
pub(crate) async fn within<S>(
    limit: Duration,
    addr: SocketAddr,
    shaking: impl Future<Output = io::Result<S>>,
    late: impl FnOnce() -> String,
) -> Result<S, TransportError> {
    let diagnosis = match timeout(limit, shaking).await {
        Ok(Ok(stream)) => return Ok(stream),
        Ok(Err(error)) => classify(&error),
        Err(_elapsed) => Diagnosis {
            failure: HandshakeFailure::Timeout,
            detail: late(),
        },
    };
    Err(TransportError::handshake(addr, diagnosis))
}

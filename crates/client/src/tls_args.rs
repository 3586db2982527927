//! [`TlsArgs`]: the TLS flags that `upcase client` and `upcase bench` share, and the
//! [`Tls`] transport they make.

use std::path::PathBuf;

use clap::Args;
use upcase_transport::{Quic, Tls, TlsClientOptions, TransportError};

/// How a TLS client checks its server, and what it shows of itself.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// With --tls or --quic: trust the CAs in this PEM file instead of the system's
    #[arg(long, value_name = "FILE", requires = "secure")]
    pub cacert: Option<PathBuf>,

    /// With --tls or --quic: do not check the server's certificate (as curl -k); anyone on the path
    /// could read and change the traffic
    #[arg(long, requires = "secure", conflicts_with = "cacert")]
    pub insecure: bool,

    /// With --tls or --quic: the name to send (SNI) and to check the certificate against [default: the
    /// --host given]
    #[arg(long, value_name = "NAME", requires = "secure")]
    pub servername: Option<String>,

    /// With --tls or --quic: a client certificate chain, PEM, for servers that require one
    #[arg(long, value_name = "FILE", requires_all = ["secure", "key"])]
    pub cert: Option<PathBuf>,

    /// With --tls or --quic: the client certificate's private key, PEM
    #[arg(long, value_name = "FILE", requires_all = ["secure", "cert"])]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS transport these flags ask for, to the server `host`; says on stderr when the
    /// server's certificate will not be checked.
    ///
    /// # Errors
    /// [`TransportError`] naming a file that cannot be used, or a name that cannot be one.
    pub fn transport(&self, host: &str, resume: bool) -> Result<Tls, TransportError> {
        Tls::client(&self.options(host, resume))
    }

    /// The QUIC transport these flags ask for, to the server `host`.
    ///
    /// # Errors
    /// As for [`transport`](Self::transport).
    pub fn quic(&self, host: &str) -> Result<Quic, TransportError> {
        Quic::client(&self.options(host, true))
    }

    /// What these flags trust and show; says on stderr when nothing is checked.
    fn options(&self, host: &str, resume: bool) -> TlsClientOptions {
        if self.insecure {
            crate::output::warn(
                "--insecure: the server's certificate is not checked; anyone on the path could \
                 read and change this traffic",
            );
        }
        let servername = self.servername.clone().unwrap_or_else(|| {
            // An IPv6 host given in brackets is checked as the address.
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        });
        TlsClientOptions {
            servername,
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            identity: self.cert.clone().zip(self.key.clone()),
            resume,
        }
    }
}

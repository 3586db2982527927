//! [`TlsArgs`]: the TLS flags that `upcase client` and `upcase bench` share, and the
//! [`Tls`] transport they make.

use std::path::PathBuf;

use clap::Args;
use upcase_transport::{Tls, TlsClientOptions, TransportError};

/// How a TLS client checks its server, and what it shows of itself.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// With --tls: trust the CAs in this PEM file instead of the system's
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub cacert: Option<PathBuf>,

    /// With --tls: do not check the server's certificate (as curl -k); anyone on the path
    /// could read and change the traffic
    #[arg(long, requires = "tls", conflicts_with = "cacert")]
    pub insecure: bool,

    /// With --tls: the name to send (SNI) and to check the certificate against [default: the
    /// --host given]
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub servername: Option<String>,

    /// With --tls: a client certificate chain, PEM, for servers that require one
    #[arg(long, value_name = "FILE", requires_all = ["tls", "key"])]
    pub cert: Option<PathBuf>,

    /// With --tls: the client certificate's private key, PEM
    #[arg(long, value_name = "FILE", requires_all = ["tls", "cert"])]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The TLS transport these flags ask for, to the server `host`; says on stderr when the
    /// server's certificate will not be checked.
    ///
    /// # Errors
    /// [`TransportError`] naming a file that cannot be used, or a name that cannot be one.
    pub fn transport(&self, host: &str, resume: bool) -> Result<Tls, TransportError> {
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
        Tls::client(&TlsClientOptions {
            servername,
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            identity: self.cert.clone().zip(self.key.clone()),
            resume,
        })
    }
}

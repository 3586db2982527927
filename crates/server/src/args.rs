//! [`ServerArgs`]: the flags of `upcase server`. Parsing only validates; sockets come later.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use upcase_proto::Builtin;

/// Flags of `upcase server`. Each has a key of the same name in the config file; a flag given
/// on the command line wins over the file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Serve UDP. With neither --udp nor --tcp, both are served on the same port.
    #[arg(long)]
    pub udp: bool,

    /// Serve TCP. With neither --udp nor --tcp, both are served on the same port.
    #[arg(long)]
    pub tcp: bool,

    /// Address to listen on [default: every address, IPv6 and IPv4 (::), or 0.0.0.0 where the
    /// host has no IPv6]
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,

    /// Port to listen on; 0 picks a free one, printed when ready [default: 12000]
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,

    /// What to do to the text: upper, lower, echo, or count=C (how often the character C
    /// occurs in each line) [default: upper]
    #[arg(long, value_name = "NAME")]
    pub transform: Option<Builtin>,

    /// Most TCP connections served at once; more wait in the kernel's queue until one closes
    /// [default: 1024]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// On Ctrl-C or SIGTERM, how long open connections get to finish, like 5s or 500ms
    /// [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub drain_timeout: Option<humantime::Duration>,

    /// Read settings from this TOML file; flags override it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

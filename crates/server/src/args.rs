//! [`ServerArgs`]: the flags of `upcase server`. Parsing only validates; sockets come later.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;
use ipnet::IpNet;
use upcase_proto::Builtin;

use crate::access::parse_network;

/// Flags of `upcase server`. Each but `--log-format` has a key of the same name in the config
/// file; a flag given on the command line wins over the file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServerArgs {
    /// Serve UDP. With none of --udp, --tcp, --tls, --quic, UDP and TCP are served on the same
    /// port
    #[arg(long)]
    pub udp: bool,

    /// Serve TCP. With none of --udp, --tcp, --tls, --quic, UDP and TCP are served on the same
    /// port
    #[arg(long)]
    pub tcp: bool,

    /// Serve TLS, on --tls-port, with --cert and --key ('upcase cert' writes a pair for
    /// localhost)
    #[arg(long)]
    pub tls: bool,

    /// Port for TLS; 0 picks a free one, printed when ready [default: 12443]
    #[arg(long, value_name = "N")]
    pub tls_port: Option<u16>,

    /// Serve QUIC, on --quic-port (UDP), with the same --cert and --key as TLS: each
    /// exchange is a stream of its own
    #[arg(long)]
    pub quic: bool,

    /// UDP port for QUIC; 0 picks a free one, printed when ready [default: 12443]
    #[arg(long, value_name = "N")]
    pub quic_port: Option<u16>,

    /// TLS certificate chain, PEM, the server's own first; read again at SIGHUP
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// TLS private key, PEM (ECDSA, Ed25519 or RSA); read again at SIGHUP
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Require TLS clients to present a certificate signed by this CA, PEM (mutual TLS)
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,

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

    /// Serve only these sources (an address or CIDR network); repeat for more [default: all]
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    pub allow: Vec<IpNet>,

    /// Never serve these sources (an address or CIDR network); repeat for more. Deny wins
    /// over allow
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    pub deny: Vec<IpNet>,

    /// Most TCP connections served at once; more wait in the kernel's queue until one closes
    /// [default: 10000]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,

    /// Most TCP connections open at once from one address (IPv6: one /64); more are closed at
    /// once; 0 for no limit [default: 256]
    #[arg(long, value_name = "N")]
    pub max_connections_per_source: Option<u32>,

    /// Most datagrams answered per second from one address (IPv6: one /64); more are dropped;
    /// 0 for no limit [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_datagrams_per_source: Option<u32>,

    /// Close a connection that has sent nothing and taken none of its replies for this long;
    /// 0 for no limit [default: 5m]
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<humantime::Duration>,

    /// Longest line in bytes for transforms that answer lines (count=C); a longer one ends the
    /// connection, or gets no reply over UDP [default: 65536]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_line: Option<u32>,

    /// On Ctrl-C or SIGTERM, how long open connections get to finish, like 5s or 500ms
    /// [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub drain_timeout: Option<humantime::Duration>,

    /// Most bytes of replies not yet taken that all TCP connections together may hold; a
    /// connection that finds it spent reads nothing more until others' replies leave
    /// [default: 100663296, 96 MiB; at least 65536]
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(crate::budget::MIN_BUDGET as u64..))]
    pub buffer_budget: Option<u64>,

    /// Threads that serve, each with its own sockets on the shared port (SO_REUSEPORT); the
    /// kernel spreads clients between them; at most 256 [default: one per core]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Expect a PROXY protocol header (v1 or v2) at the start of every TCP connection, as a load
    /// balancer sends it, and serve, log, limit and filter by the client address it gives
    #[arg(long)]
    pub proxy_protocol: bool,

    /// The load balancers in front of the server (an address or CIDR network); repeat for
    /// more. With --proxy-protocol only their connections are served, and only their headers
    /// believed; their datagrams are not held to one source's rate [default: loopback]
    #[arg(long, value_name = "CIDR", value_parser = parse_network)]
    pub proxy_from: Vec<IpNet>,

    /// Serve the counters as Prometheus text at http://ADDR/metrics, like 127.0.0.1:9100
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Serve the socket on standard input, as inetd hands it: a TCP connection (nowait) to its
    /// end, or a UDP socket (wait) until --idle-timeout passes without a datagram. No ready
    /// lines; no logs when standard error is the socket too
    #[arg(long)]
    pub inetd: bool,

    /// Read settings from this TOML file; flags override it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How log lines are written on standard error: text, or json (one object a line, with the
    /// text line's fields, for log shippers). The log starts before the config file is read, so
    /// this one is a flag only
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How the server's log lines are written: `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// A line of text each: time, level, module, message.
    #[default]
    Text,
    /// A JSON object each, with the same fields: `timestamp`, `level`, `target`, `message`.
    Json,
}

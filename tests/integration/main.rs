//! Tests of the `upcase` binary as users run it: real processes on loopback sockets.
//!
//! - `util`: helpers: the binary, a server on port 0, the textbook's Python programs.
//! - `reflection`: loops with other echo services, started by forged datagrams.
//! - `destination`: broadcast, multicast and a second address, in network namespaces.
//! - `server`: `upcase server`: ready lines, transports, config file, signals, error exits.
//! - `access`: `--allow` and `--deny` in every spelling, on both stacks, flags and file.
//! - `bounds`: absurd flag and config values refused in one line, naming the bound.
//! - `abuse`: `upcase server` flooded, hoarded and stopped mid-stream.
//! - `balancer`: three servers behind nginx's stream module, for TCP (PROXY protocol) and UDP.
//! - `bench`: `upcase bench` against upcase, the textbook's servers and wrong ones.
//! - `bench_transforms`: `upcase bench --transform`, every built-in's replies checked.
//! - `fleet`: generators on hosts of a test bed (network namespaces): shares, merge, loss,
//!   a slow link, and the Kubernetes Job of docs/deploy.
//! - `hlog`: `upcase bench --hlog`, read back by Python's `hdrhistogram`.
//! - `load`: `upcase bench` as an instrument: open loop, run length, its files, more peers.
//! - `memory`: what an idle connection costs the server.
//! - `logging`: the server's log in text and as JSON.
//! - `budget`: `--buffer-budget` against clients that send and never read.
//! - `client`: `upcase client`: one-shot and terminal modes, error exits.
//! - `client_pipe`: `upcase client` in pipe mode, whatever its input and output do.
//! - `client_stdio`: the pipe mode's ends: stdin unreadable, descriptors left non-blocking.
//! - `generated`: shell completions and manual pages.
//! - `inherit`: sockets handed over by systemd (LISTEN_FDS) and inetd (--inetd).
//! - `pipes`: closed pipes and full disks on stdout and stderr.
//! - `metrics`: the `--metrics` endpoint against clients that hold on, and its access rules.
//! - `hostile_server`: the client against servers that steer terminals, trickle, or answer wrong.
//! - `misbehaving`: the client against servers that send without end, go quiet, or close.
//! - `ping`: `upcase client --count N` and `--json`.
//! - `prometheus`: a real Prometheus scraping the server; promtool on its text, config and rules.
//! - `proxy`: `--proxy-protocol`, with PROXY headers written by hand.
//! - `operator_files`: `--config` naming a FIFO, a device, a directory; a flood of SIGHUPs.
//! - `merge`: `upcase bench merge`, `--share`, `--start-at`, `--warmup` on loopback.
//! - `slo`: `upcase bench --slo`: objectives met, broken (exit 3), and refused.
//! - `signals`: SIGHUP and a second SIGTERM or Ctrl-C, with connections in progress.
//! - `textbook`: the textbook's four Python programs against upcase, both ways.
//! - `tls`: `--tls` as a newcomer and a careless peer try it: `upcase cert`, every client
//!   mode, certificates that do not verify, bad files, mutual TLS, SIGHUP.
//! - `tls_peers`: TLS with other tools (openssl, socat, ncat, Python's ssl) both ways, hostile
//!   handshakes, PROXY headers before TLS, metrics.
//! - `quic`: `--quic` in every client mode, aioquic as a client (many streams on one
//!   connection) and as a server, refusals.
//! - `quic_limits`: `--max-connections` and `--idle-timeout` over QUIC.
//! - `quic_budget`: QUIC clients that send and never read, against the server's memory.
//! - `quic_keys`: mutual TLS and SIGHUP's reload over QUIC.
//! - `quic_flood`: forged QUIC Initials: at most three times their size back, Retry under a
//!   flood, a real client served meanwhile.
//! - `tls_balancer`: nginx ending TLS in front of plain upcase, and passing TLS through to
//!   upcase's TLS servers, with PROXY headers; and relaying QUIC as UDP.
//! - `tls_bench`: `upcase bench --tls`: a window, full and resumed handshakes, socat as a
//!   peer, what it refuses before loading.
//! - `descriptors`: the server short of descriptors, and --workers past its bound.
//! - `examples`: the programs in `examples/`, built by `cargo test` and run here.
//! - `workers`: `upcase server --workers N`: one port shared by worker threads.

mod abuse;
mod access;
mod balancer;
mod bench;
mod bench_transforms;
mod bounds;
mod budget;
mod client;
mod client_pipe;
mod client_stdio;
mod descriptors;
mod destination;
mod examples;
mod fleet;
mod generated;
mod hlog;
mod hostile_server;
mod inherit;
mod load;
mod logging;
mod memory;
mod merge;
mod metrics;
mod misbehaving;
mod operator_files;
mod ping;
mod pipes;
mod prometheus;
mod proxy;
mod quic;
mod quic_budget;
mod quic_flood;
mod quic_keys;
mod quic_limits;
mod reflection;
mod server;
mod signals;
mod slo;
mod textbook;
mod tls;
mod tls_balancer;
mod tls_bench;
mod tls_peers;
mod util;
mod workers;

//! `upcase server --workers N`: threads with sockets of their own on one shared port.

use std::collections::BTreeMap;

use crate::util::{read_until, start_server, tcp_exchange, udp_exchange, upcase};

/// Voluntary context switches of each worker thread and each UDP thread, by thread name. A
/// thread asleep in epoll or in recvmmsg with nothing to do makes none; one that serves makes
/// at least one per wake-up.
fn worker_switches(pid: u32) -> BTreeMap<String, u64> {
    let mut switches = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the server's threads") {
        let path = task.expect("a thread").path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.starts_with("upcase-worker") && !name.starts_with("upcase-udp") {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        let count = status
            .lines()
            .find_map(|line| line.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("a context switch count");
        switches.insert(name.trim().to_owned(), count);
    }
    switches
}

/// [`worker_switches`] once `expected` threads have their names. A thread names itself once it
/// runs, so one just started may still show the name of the worker that started it.
fn named_worker_switches(pid: u32, expected: usize) -> BTreeMap<String, u64> {
    read_until(
        || worker_switches(pid),
        |switches| switches.len() >= expected,
    )
}

#[test]
fn every_worker_serves_a_share_of_many_clients() {
    let server = start_server(&[
        "--bind",
        "127.0.0.1",
        "--workers",
        "3",
        "--max-datagrams-per-source",
        "0",
        "--max-connections-per-source",
        "0",
    ]);
    // On Linux each worker serves UDP from a thread of its own.
    let threads = if cfg!(target_os = "linux") { 6 } else { 3 };
    let before = named_worker_switches(server.child.id(), threads);
    assert_eq!(
        before.len(),
        threads,
        "a thread per worker, and one per UDP socket: {before:?}"
    );

    // Clients differ by source port, which is what the kernel spreads them by: with 64 of each,
    // the chance that a worker gets none is below one in ten million.
    for i in 0..64 {
        let message = format!("datagram {i}");
        assert_eq!(
            udp_exchange(server.udp(), "127.0.0.1:0", message.as_bytes()),
            message.to_uppercase().as_bytes()
        );
        let message = format!("stream {i}");
        assert_eq!(
            tcp_exchange(server.tcp(), message.as_bytes()),
            message.to_uppercase().as_bytes()
        );
    }

    let after = worker_switches(server.child.id());
    for (worker, count) in &before {
        assert!(
            after[worker] > *count,
            "{worker} served nobody: {before:?} then {after:?}"
        );
    }
    assert!(server.signal("TERM").success());
}

#[test]
fn a_port_held_by_a_server_with_workers_is_in_use_for_another() {
    for transport in ["--tcp", "--udp"] {
        let first = start_server(&["--bind", "127.0.0.1", transport, "--workers", "2"]);
        let port = first.port().to_string();
        let name = &transport[2..];
        upcase()
            .args(["server", transport, "--bind", "127.0.0.1", "--port", &port])
            .args(["--workers", "3"])
            .assert()
            .code(1)
            .stdout("")
            .stderr(format!(
                "upcase: cannot listen on {name} 127.0.0.1:{port}: address already in use; pick another --port or --bind, or stop what holds it\n"
            ));
    }
}

#[test]
fn zero_workers_is_a_usage_error() {
    upcase()
        .args(["server", "--workers", "0"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "upcase: invalid value '0' for '--workers <N>': 0 is not in 1..=4294967295; see 'upcase server --help'\n",
        );
}

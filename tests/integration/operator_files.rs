//! `--config` naming what is not a regular file (a FIFO, /dev/zero, a directory, a file too
//! large), at start-up and at SIGHUP, and a flood of SIGHUPs: one line, nothing blocked; the same
//! for a TLS key.

use std::time::{Duration, Instant};

use crate::util::{PATIENCE, send_signal, start_server_watched, upcase};

/// A FIFO at `path`, with no writer.
fn fifo(path: &std::path::Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(made.success());
}

#[test]
fn a_config_that_is_not_a_regular_file_is_refused_in_one_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pipe = dir.path().join("upcase.fifo");
    fifo(&pipe);
    let large = dir.path().join("large.toml");
    std::fs::write(&large, format!("# {}\n", "x".repeat(2 << 20))).expect("write");
    let zero_link = dir.path().join("zero.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).expect("link");
    for (path, says) in [
        (
            std::path::PathBuf::from("/dev/zero"),
            "not a regular file but a device",
        ),
        (zero_link, "not a regular file but a device"),
        (pipe, "not a regular file but a FIFO"),
        (
            dir.path().to_path_buf(),
            "not a regular file but a directory",
        ),
        (large, "more than a config file's 1048576"),
    ] {
        let out = upcase()
            .args(["server", "--port", "0", "--config"])
            .arg(&path)
            .timeout(PATIENCE)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(says), "{}: {stderr}", path.display());
        assert!(stderr.contains(&path.display().to_string()), "{stderr}");
    }
}

#[test]
fn a_config_swapped_for_a_fifo_or_dev_zero_leaves_signals_working() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("upcase.toml");
    std::fs::write(&config, "bind = \"127.0.0.1\"\nworkers = 1\n").expect("write");
    let path = config.to_str().expect("utf-8 path");
    let (server, mut log) = start_server_watched(&["--config", path], "info");
    std::fs::remove_file(&config).expect("remove");
    fifo(&config);
    send_signal(server.child.id(), "HUP");
    let line = log.wait_for("SIGHUP: ");
    assert!(line.contains("not a regular file but a FIFO"), "{line}");
    assert!(
        line.contains("serving on with the settings as they were"),
        "{line}"
    );
    std::fs::remove_file(&config).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", &config).expect("link");
    send_signal(server.child.id(), "HUP");
    let line = log.wait_for("SIGHUP: ");
    assert!(line.contains("not a regular file but a device"), "{line}");
    // Still serving, and every other signal still handled.
    let reply = upcase()
        .args(["client", "--port", &server.port().to_string(), "still here"])
        .timeout(PATIENCE)
        .output()
        .expect("client");
    assert_eq!(String::from_utf8_lossy(&reply.stdout), "STILL HERE\n");
    send_signal(server.child.id(), "USR1");
    log.wait_for("counters: ");
    assert!(server.signal("TERM").success(), "SIGTERM still works");
}

#[test]
fn a_flood_of_sighups_reloads_at_most_once_a_second() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("upcase.toml");
    std::fs::write(&config, "bind = \"127.0.0.1\"\nworkers = 1\n").expect("write");
    let path = config.to_str().expect("utf-8 path");
    let (server, mut log) = start_server_watched(&["--config", path], "info");
    let started = Instant::now();
    // bash's own kill: a thousand signals, no process each.
    let flood = std::process::Command::new("bash")
        .args(["-c", "for _ in $(seq 1000); do kill -HUP \"$0\"; done"])
        .arg(server.child.id().to_string())
        .status()
        .expect("bash");
    assert!(flood.success());
    let took = started.elapsed();
    // The last of them is still reloaded: the flood is taken together, not dropped.
    std::fs::write(
        &config,
        "bind = \"127.0.0.1\"\nworkers = 1\ndeny = [\"127.0.0.9\"]\n",
    )
    .expect("rewrite");
    send_signal(server.child.id(), "HUP");
    log.wait_for("deny 127.0.0.9/32");
    assert!(server.signal("TERM").success(), "SIGTERM still works");
    let whole = log.rest();
    let reloads = whole.matches("SIGHUP: reloaded").count();
    let seconds = (started.elapsed() + Duration::from_secs(1)).as_secs() as usize;
    assert!(
        reloads <= seconds + 1,
        "{reloads} reload lines in {seconds} s (the flood took {took:?}):\n{whole}"
    );
}

#[test]
fn a_tls_key_swapped_for_a_fifo_is_refused_at_sighup_and_tls_served_on() {
    let dir = tempfile::tempdir().expect("temporary directory");
    upcase()
        .arg("cert")
        .current_dir(dir.path())
        .assert()
        .success();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let files = [
        "--tls",
        "--cert",
        cert.to_str().expect("utf-8 path"),
        "--key",
        key.to_str().expect("utf-8 path"),
    ];
    let (server, mut log) = start_server_watched(&files, "info");
    std::fs::remove_file(&key).expect("remove");
    fifo(&key);
    send_signal(server.child.id(), "HUP");
    let line = log.wait_for("SIGHUP: ");
    assert!(line.contains("not a regular file but a FIFO"), "{line}");
    assert!(
        line.contains("serving TLS with the certificate as it was"),
        "{line}"
    );
    let reply = upcase()
        .args(["client", "--tls", "--cacert"])
        .arg(&cert)
        .args(["--port", &server.tls().port().to_string(), "still here"])
        .timeout(PATIENCE)
        .output()
        .expect("client");
    assert_eq!(String::from_utf8_lossy(&reply.stdout), "STILL HERE\n");
}

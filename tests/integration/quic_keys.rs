//! QUIC with TLS's keys: `--client-ca` requires a client certificate over QUIC as over TLS,
//! and SIGHUP gives new QUIC connections the certificate read again.

use std::path::Path;

use predicates::prelude::*;

use crate::util::pki::{Pair, Pki, Validity, arg};
use crate::util::{read_until, send_signal, start_server};

/// `upcase client --quic` to `port` on 127.0.0.1, trusting `ca`, with `more`.
fn client(port: u16, ca: &Path, more: &[&str]) -> assert_cmd::Command {
    let mut client = crate::util::upcase();
    client
        .args([
            "client",
            "--quic",
            "--host",
            "127.0.0.1",
            "--cacert",
            arg(ca),
        ])
        .args(["--port", &port.to_string()])
        .args(more);
    client
}

#[test]
fn mutual_tls_over_quic_requires_a_certificate_from_the_named_ca() {
    let pki = Pki::new();
    let (ca, clients, strangers) = (pki.ca("servers"), pki.ca("clients"), pki.ca("strangers"));
    let pair = pki.server(&ca, "server", &["127.0.0.1"], Validity::Now);
    let (member, stranger) = (
        pki.client(&clients, "member"),
        pki.client(&strangers, "stranger"),
    );
    let server = start_server(&[
        "--quic",
        "--cert",
        arg(&pair.cert),
        "--key",
        arg(&pair.key),
        "--client-ca",
        arg(&clients.cert),
    ]);
    let port = server.quic().port();
    let as_member = ["--cert", arg(&member.cert), "--key", arg(&member.key), "hi"];
    client(port, &ca.cert, &as_member)
        .assert()
        .success()
        .stdout("HI\n");
    client(port, &ca.cert, &["hi"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("requires a client certificate"));
    let as_stranger = [
        "--cert",
        arg(&stranger.cert),
        "--key",
        arg(&stranger.key),
        "hi",
    ];
    client(port, &ca.cert, &as_stranger)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("TLS handshake with"));
}

#[test]
fn sighup_gives_new_quic_connections_the_certificate_read_again() {
    let pki = Pki::new();
    let (old_ca, new_ca) = (pki.ca("old"), pki.ca("new"));
    let old = pki.server(&old_ca, "old", &["127.0.0.1"], Validity::Now);
    let new = pki.server(&new_ca, "new", &["127.0.0.1"], Validity::Now);
    let (cert, key) = (pki.path("serving.pem"), pki.path("serving-key.pem"));
    let install = |pair: &Pair| {
        std::fs::copy(&pair.cert, &cert).expect("copy");
        std::fs::copy(&pair.key, &key).expect("copy");
    };
    install(&old);
    let server = start_server(&["--quic", "--cert", arg(&cert), "--key", arg(&key)]);
    let port = server.quic().port();
    let trusts = |ca: &Path| client(port, ca, &["hi"]).ok().is_ok();
    assert!(trusts(&old_ca.cert));
    install(&new);
    send_signal(server.child.id(), "HUP");
    assert!(read_until(|| trusts(&new_ca.cert), |ok| *ok));
    assert!(
        !trusts(&old_ca.cert),
        "new connections get the new certificate"
    );
}

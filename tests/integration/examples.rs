//! The programs in `examples/`, run as users would run them.

use std::process::Command;

use crate::util::{example, spawn_server, upcase};

#[test]
fn rot13_server_serves_its_own_transform_on_both_transports() {
    let server = spawn_server(
        Command::new(example("rot13_server")).arg("0"),
        &["udp", "tcp"],
    );
    let port = server.port().to_string();
    for transport in ["--tcp", "--udp"] {
        upcase()
            .args([
                "client",
                transport,
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "Hello, World ß",
            ])
            .assert()
            .success()
            .stdout("Uryyb, Jbeyq ß\n");
    }
    assert_eq!(server.signal("INT").code(), Some(0));
}

//! The programs in `examples/`, run as users would run them.

use std::process::Command;

use crate::util::{Killed, example, spawn_server, start_announcing, typed, upcase};

#[path = "../../examples/transforms/rot13.rs"]
mod rot13;

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

#[test]
fn the_tokio_server_example_answers_both_transports_and_many_clients_at_once() {
    let server = spawn_server(
        Command::new(example("tokio_server")).arg("0"),
        &["udp", "tcp"],
    );
    let port = server.port().to_string();
    // Two connections at once: the one left open does not hold up the other.
    let held = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    upcase()
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "hello, world",
        ])
        .assert()
        .success()
        .stdout("HELLO, WORLD\n");
    // Enough text, streamed, that its two-byte characters are split between reads.
    let long = "straße ǅ\n".repeat(20_000);
    upcase()
        .args(["client", "--tcp", "--host", "127.0.0.1", "--port", &port])
        .write_stdin(long.clone())
        .assert()
        .success()
        .stdout(long.to_uppercase());
    drop(held);
}

#[test]
fn the_rot13_examples_transform_keeps_to_the_growth_bound_every_transform_keeps_to() {
    let input = "Hello, World\n ΐ straße \u{ff} ".repeat(50);
    for chunk in [1, 2, 3, 64, input.len()] {
        let checked = upcase_proto::check_growth(&rot13::Rot13, input.as_bytes(), chunk);
        assert_eq!(checked, Ok(()), "in chunks of {chunk}");
    }
}

/// One of the textbook examples' servers on a free loopback port, killed when dropped, and
/// that port (from its ready line, as the book's servers print it here).
fn start_example_server(name: &str) -> (Killed, u16) {
    let (child, port) = start_announcing(Command::new(example(name)).args(["0", "127.0.0.1"]));
    (Killed(child), port)
}

/// What a client printed when typed `line`; it must succeed.
fn typed_ok(program: &mut Command, line: &str) -> String {
    let output = typed(program, line);
    assert!(output.status.success(), "{program:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The book's four Python programs against the four examples, both ways: its clients get
/// their answers from the examples' servers, and the examples' clients from its servers.
#[test]
fn the_textbook_examples_and_the_books_programs_answer_each_other() {
    use crate::util::{start_textbook_server, textbook};
    let expected = [
        ("udp", "Input lowercase sentence:HELLO, STRASSE\n"),
        (
            "tcp",
            "Input lowercase sentence:From Server:  HELLO, STRASSE\n",
        ),
    ];
    for (transport, printed) in expected {
        let book = |side: &str| format!("{}{side}.py", transport.to_uppercase());
        let (_server, port) = start_example_server(&format!("{transport}_server"));
        let mut python = Command::new("python3");
        python
            .arg(textbook(&book("Client")))
            .args(["127.0.0.1", &port.to_string()]);
        assert_eq!(
            typed_ok(&mut python, "hello, straße\n"),
            printed,
            "{transport}"
        );

        let (mut server, port) = start_textbook_server(&book("Server"));
        let mut ours = Command::new(example(&format!("{transport}_client")));
        ours.args(["127.0.0.1", &port.to_string()]);
        assert_eq!(
            typed_ok(&mut ours, "hello, straße\n"),
            printed,
            "{transport}"
        );
        let _ = server.kill();
        let _ = server.wait();
    }
}

/// The examples' clients and servers together, and their bad arguments.
#[test]
fn the_textbook_examples_answer_each_other_and_refuse_a_bad_port() {
    for transport in ["udp", "tcp"] {
        let (_server, port) = start_example_server(&format!("{transport}_server"));
        let mut client = Command::new(example(&format!("{transport}_client")));
        client.args(["127.0.0.1", &port.to_string()]);
        let printed = typed_ok(&mut client, "one line\n");
        assert!(printed.ends_with("ONE LINE\n"), "{transport}: {printed:?}");
        for name in [format!("{transport}_server"), format!("{transport}_client")] {
            let args: &[&str] = if name.ends_with("server") {
                &["port"]
            } else {
                &["localhost", "port"]
            };
            let output = Command::new(example(&name))
                .args(args)
                .output()
                .expect("runs");
            assert!(
                !output.status.success(),
                "{name} took a port that is not a number"
            );
        }
    }
}

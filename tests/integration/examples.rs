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

/// One of the textbook examples' servers on a free loopback port, killed when dropped, and
/// that port (from its ready line, as the book's servers print it here).
fn start_example_server(name: &str) -> (Killed, u16) {
    use std::io::BufRead;
    let mut child = Command::new(example(name))
        .args(["0", "127.0.0.1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the example runs");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(
        line.starts_with("The server is ready to receive on port "),
        "{line}"
    );
    let port = line
        .trim_end()
        .rsplit(' ')
        .next()
        .and_then(|p| p.parse().ok());
    (
        Killed(child),
        port.unwrap_or_else(|| panic!("no port in {line:?}")),
    )
}

/// A child killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program` with `args`, types `line` at it, and gives what it printed.
fn typed(program: &mut Command, line: &str) -> String {
    use std::io::Write;
    let mut child = program
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the client runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(line.as_bytes())
        .expect("type the sentence");
    let output = child.wait_with_output().expect("client output");
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
            typed(&mut python, "hello, straße\n"),
            printed,
            "{transport}"
        );

        let (mut server, port) = start_textbook_server(&book("Server"));
        let mut ours = Command::new(example(&format!("{transport}_client")));
        ours.args(["127.0.0.1", &port.to_string()]);
        assert_eq!(typed(&mut ours, "hello, straße\n"), printed, "{transport}");
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
        let printed = typed(&mut client, "one line\n");
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

//! The textbook's four Python programs (tests/textbook/), as printed in Kurose & Ross §2.7,
//! against upcase: its clients against `upcase server`, and `upcase client` against its servers.

use std::process::{Command, Output};

use crate::util::{start_server, start_textbook_server, textbook, typed, upcase};

fn run_textbook_client(name: &str, host: &str, port: u16, line: &str) -> Output {
    typed(
        Command::new("python3")
            .arg(textbook(name))
            .args([host, &port.to_string()]),
        line,
    )
}

#[test]
fn textbook_clients_get_their_answers_from_upcase() {
    let server = start_server(&[]);
    for (client, expected) in [
        ("UDPClient.py", "Input lowercase sentence:HELLO WORLD\n"),
        // Sent without a newline and read with one recv(1024): answered at once.
        (
            "TCPClient.py",
            "Input lowercase sentence:From Server:  HELLO WORLD\n",
        ),
    ] {
        for host in ["127.0.0.1", "::1"] {
            let output = run_textbook_client(client, host, server.port(), "hello world\n");
            assert!(output.status.success(), "{client} to {host}");
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                expected,
                "{client} to {host}"
            );
        }
    }
}

#[test]
fn upcase_client_gets_its_answer_from_the_textbook_udp_server() {
    let (mut server, port) = start_textbook_server("UDPServer.py");
    upcase()
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "hello",
            "world",
        ])
        .assert()
        .success()
        .stdout("HELLO WORLD\n");
    upcase()
        .args([
            "client",
            "--udp",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .write_stdin("one\ntwo\n")
        .assert()
        .success()
        .stdout("ONE\nTWO\n");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn upcase_client_gets_its_answer_from_the_textbook_tcp_server() {
    let (mut server, port) = start_textbook_server("TCPServer.py");
    for _ in 0..3 {
        upcase()
            .args([
                "client",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "hello",
                "world",
            ])
            .assert()
            .success()
            .stdout("HELLO WORLD\n");
    }
    let _ = server.kill();
    let _ = server.wait();
}

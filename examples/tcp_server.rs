//! The textbook's TCPServer.py (Kurose & Ross §2.7.2), step for step: each of the book's lines
//! is the comment above the Rust that does it. The upper-casing is upcase's own, from
//! `upcase-proto`. `cargo run --example tcp_server [PORT [ADDRESS]]`: port 12000 and every
//! address (the book's `''`) unless given; port 0 takes any free one. docs/TOUR.md goes from
//! here to the real server, one thing it adds at a time.

use std::error::Error;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use upcase_proto::{Transformer, Upper};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // serverPort = 12000
    let server_port: u16 = args.next().map_or(Ok(12000), |port| port.parse())?;
    let address = args.next().unwrap_or_else(|| "0.0.0.0".into());
    // serverSocket = socket(AF_INET, SOCK_STREAM)
    // serverSocket.bind(('', serverPort))
    // serverSocket.listen(1)
    let server_socket = TcpListener::bind((address.as_str(), server_port))?;
    let server_port = server_socket.local_addr()?.port();
    // print('The server is ready to receive')
    writeln!(
        std::io::stdout(),
        "The server is ready to receive on port {server_port}"
    )?;
    // while True:
    loop {
        // connectionSocket, addr = serverSocket.accept()
        let (connection_socket, _addr) = server_socket.accept()?;
        // Python would end the server on a client's error; this one says so and goes on.
        if let Err(error) = answer(connection_socket) {
            let _ = writeln!(std::io::stderr(), "a client failed: {error}");
        }
    }
}

fn answer(mut connection_socket: TcpStream) -> Result<(), Box<dyn Error>> {
    // sentence = connectionSocket.recv(1024).decode()
    let mut sentence = [0; 1024];
    let length = connection_socket.read(&mut sentence)?;
    // capitalizedSentence = sentence.upper()
    let mut capitalized_sentence = Vec::new();
    Transformer::new(Upper).datagram(&sentence[..length], &mut capitalized_sentence)?;
    // connectionSocket.send(capitalizedSentence.encode())
    connection_socket.write_all(&capitalized_sentence)?;
    // connectionSocket.close()
    drop(connection_socket);
    Ok(())
}

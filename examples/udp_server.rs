//! The textbook's UDPServer.py (Kurose & Ross §2.7.1), step for step: each of the book's lines
//! is the comment above the Rust that does it. The upper-casing is upcase's own, from
//! `upcase-proto`. `cargo run --example udp_server [PORT [ADDRESS]]`: port 12000 and every
//! address (the book's `''`) unless given; port 0 takes any free one. docs/TOUR.md goes from
//! here to the real server, one thing it adds at a time.

use std::error::Error;
use std::io::Write;
use std::net::UdpSocket;

use upcase_proto::{Transformer, Upper};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // serverPort = 12000
    let server_port: u16 = args.next().map_or(Ok(12000), |port| port.parse())?;
    let address = args.next().unwrap_or_else(|| "0.0.0.0".into());
    // serverSocket = socket(AF_INET, SOCK_DGRAM)
    // serverSocket.bind(('', serverPort))
    let server_socket = UdpSocket::bind((address.as_str(), server_port))?;
    let server_port = server_socket.local_addr()?.port();
    // print("The server is ready to receive")
    writeln!(
        std::io::stdout(),
        "The server is ready to receive on port {server_port}"
    )?;
    let mut upper = Transformer::new(Upper);
    let mut message = [0; 2048];
    // while True:
    loop {
        // message, clientAddress = serverSocket.recvfrom(2048)
        let (length, client_address) = server_socket.recv_from(&mut message)?;
        // modifiedMessage = message.decode().upper()
        let mut modified_message = Vec::new();
        upper.datagram(&message[..length], &mut modified_message)?;
        // serverSocket.sendto(modifiedMessage.encode(), clientAddress)
        server_socket.send_to(&modified_message, client_address)?;
    }
}

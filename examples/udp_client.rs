//! The textbook's UDPClient.py (Kurose & Ross §2.7.1), step for step: each of the book's lines
//! is the comment above the Rust that does it. `cargo run --example udp_client [HOST [PORT]]`:
//! localhost and 12000 unless given. docs/TOUR.md goes from here to `upcase client`.

use std::error::Error;
use std::io::{BufRead, Write};
use std::net::{ToSocketAddrs, UdpSocket};

use upcase_proto::line_message;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // serverName = 'hostname'
    let server_name = args.next().unwrap_or_else(|| "localhost".into());
    // serverPort = 12000
    let server_port: u16 = args.next().map_or(Ok(12000), |port| port.parse())?;
    let server = (server_name.as_str(), server_port)
        .to_socket_addrs()?
        .next();
    let server = server.ok_or_else(|| format!("{server_name} has no address"))?;
    // clientSocket = socket(AF_INET, SOCK_DGRAM)
    let client_socket = UdpSocket::bind(if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    })?;
    // message = raw_input('Input lowercase sentence:')
    let mut stdout = std::io::stdout();
    write!(stdout, "Input lowercase sentence:")?;
    stdout.flush()?;
    let mut message = Vec::new();
    std::io::stdin().lock().read_until(b'\n', &mut message)?;
    // clientSocket.sendto(message.encode(),(serverName, serverPort))
    client_socket.send_to(line_message(&message), server)?;
    // modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
    let mut modified_message = [0; 2048];
    let (length, _server_address) = client_socket.recv_from(&mut modified_message)?;
    // print(modifiedMessage.decode())
    writeln!(
        stdout,
        "{}",
        String::from_utf8_lossy(&modified_message[..length])
    )?;
    // clientSocket.close()
    drop(client_socket);
    Ok(())
}

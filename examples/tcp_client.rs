//! The textbook's TCPClient.py (Kurose & Ross §2.7.2), step for step: each of the book's lines
//! is the comment above the Rust that does it. `cargo run --example tcp_client [HOST [PORT]]`:
//! localhost and 12000 unless given. docs/TOUR.md goes from here to `upcase client`.

use std::error::Error;
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;

use upcase_proto::line_message;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    // serverName = 'servername'
    let server_name = args.next().unwrap_or_else(|| "localhost".into());
    // serverPort = 12000
    let server_port: u16 = args.next().map_or(Ok(12000), |port| port.parse())?;
    // clientSocket = socket(AF_INET, SOCK_STREAM)
    // clientSocket.connect((serverName,serverPort))
    let mut client_socket = TcpStream::connect((server_name.as_str(), server_port))?;
    // sentence = raw_input('Input lowercase sentence:')
    let mut stdout = std::io::stdout();
    write!(stdout, "Input lowercase sentence:")?;
    stdout.flush()?;
    let mut sentence = Vec::new();
    std::io::stdin().lock().read_until(b'\n', &mut sentence)?;
    // clientSocket.send(sentence.encode())
    client_socket.write_all(line_message(&sentence))?;
    // modifiedSentence = clientSocket.recv(1024)
    let mut modified_sentence = [0; 1024];
    let length = client_socket.read(&mut modified_sentence)?;
    // print('From Server: ', modifiedSentence.decode())
    let reply = String::from_utf8_lossy(&modified_sentence[..length]);
    writeln!(stdout, "From Server:  {reply}")?;
    // clientSocket.close()
    drop(client_socket);
    Ok(())
}

//! [`command`]: `upcase client`, from flags to printed replies.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use upcase_proto::{line_message, reply_line};
use upcase_transport::{Client, ClientOptions, Tcp, Transport, TransportError, Udp, resolve};

use crate::output::{Stdout, unmark};
use crate::{ClientArgs, ClientError};

/// The textbook's prompt, shown before each line when standard input is a terminal.
pub const PROMPT: &str = "Input lowercase sentence:";

/// Runs `upcase client`.
///
/// # Errors
/// [`ClientError`] when the host does not resolve, the server cannot be reached or does not
/// answer, or a message cannot be sent as asked. Standard output closing early is not an error.
pub async fn command(args: ClientArgs) -> Result<(), ClientError> {
    let addrs = resolve(&args.host, args.port)
        .await
        .map_err(|error| match error {
            TransportError::Resolve { host, reason } => ClientError::Resolve { host, reason },
            error => error.into(),
        })?;
    let options = ClientOptions {
        timeout: args.timeout.into(),
        retries: args.retries,
    };
    let outcome = if args.udp {
        talk::<Udp>(&args, addrs, options).await
    } else {
        talk::<Tcp>(&args, addrs, options).await
    };
    match outcome {
        Err(ClientError::Output(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        outcome => outcome,
    }
}

/// Everything below the choice of transport.
async fn talk<T: Transport>(
    args: &ClientArgs,
    addrs: Vec<SocketAddr>,
    options: ClientOptions,
) -> Result<(), ClientError> {
    let mut client = T::connect(addrs, options).await?;
    let mut stdout = Stdout::new();
    if !args.message.is_empty() {
        let words: Vec<&[u8]> = args.message.iter().map(|word| word.as_bytes()).collect();
        let reply = client.exchange(&words.join(&b' ')).await?;
        print_reply(&mut stdout, &reply).await
    } else if std::io::stdin().is_terminal() {
        prompt_loop(&mut client, &mut stdout).await
    } else {
        client
            .pipe(tokio::io::stdin(), stdout)
            .await
            .map_err(|error| match error {
                TransportError::Io(io) => match unmark(io) {
                    Ok(output) => ClientError::Output(output),
                    Err(io) => TransportError::Io(io).into(),
                },
                error => error.into(),
            })
    }
}

/// The textbook's client, looped: prompt, read a line, send it, print the reply.
async fn prompt_loop<C: Client>(client: &mut C, stdout: &mut Stdout) -> Result<(), ClientError> {
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    loop {
        write_out(stdout, PROMPT.as_bytes()).await?;
        line.clear();
        if stdin
            .read_until(b'\n', &mut line)
            .await
            .map_err(ClientError::Input)?
            == 0
        {
            // End of input (Ctrl-D) leaves the cursor after the prompt.
            return write_out(stdout, b"\n").await;
        }
        let reply = client.exchange(line_message(&line)).await?;
        print_reply(stdout, &reply).await?;
    }
}

async fn print_reply(stdout: &mut Stdout, reply: &[u8]) -> Result<(), ClientError> {
    let mut out = Vec::with_capacity(reply.len() + 1);
    reply_line(reply, &mut out);
    write_out(stdout, &out).await
}

async fn write_out(stdout: &mut Stdout, bytes: &[u8]) -> Result<(), ClientError> {
    let written = async {
        stdout.write_all(bytes).await?;
        stdout.flush().await
    };
    written
        .await
        .map_err(|error| ClientError::Output(unmark(error).unwrap_or_else(|e| e)))
}

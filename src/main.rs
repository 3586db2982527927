//! The `upcase` command: `upcase server` and `upcase client`, composed from the workspace's
//! crates. This file only parses the command line, starts the runtime and logging, and turns
//! every failure into one line on stderr and an exit code:
//!
//! | code | meaning                                                          |
//! |------|------------------------------------------------------------------|
//! | 0    | success (also when standard output is closed early by its reader) |
//! | 1    | network or system failure: refused, reset, no reply, port in use  |
//! | 2    | usage or config error, or a log `upcase bench merge` cannot read  |
//! | 3    | `upcase bench`: an objective (`--slo`) was broken                  |

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use upcase_bench::BenchArgs;
use upcase_client::ClientArgs;
use upcase_server::{CertArgs, LogFormat, ServerArgs};

/// upcase: the textbook's capitalization service (Kurose & Ross §2.7) over UDP and TCP.
#[derive(Debug, Parser)]
#[command(name = "upcase", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    #[command(flatten)]
    logging: Logging,
}

/// The flags every command takes, listed after each command's own.
#[derive(Debug, Args)]
struct Logging {
    /// Log more: -v for each connection and datagram, -vv for everything; overrides RUST_LOG
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    #[arg(display_order = 900)]
    verbose: u8,

    /// Log less: -q for warnings and errors only, -qq for errors only; overrides RUST_LOG
    #[arg(short, long, action = clap::ArgAction::Count, global = true, display_order = 901)]
    quiet: u8,
}

const SERVER_ABOUT: &str =
    "Answer every message with its transform (upper case by default), over UDP and TCP";
const CLIENT_ABOUT: &str =
    "Send a message, the lines typed at a prompt, or standard input, and print the replies";
const BENCH_ABOUT: &str =
    "Load an echo or capitalization server, check every reply, report replies/s and latency";

#[derive(Debug, Subcommand)]
enum Command {
    #[command(about = SERVER_ABOUT)]
    Server(ServerArgs),
    #[command(about = CLIENT_ABOUT)]
    Client(ClientArgs),
    #[command(about = BENCH_ABOUT)]
    Bench(BenchArgs),
    /// Write a self-signed certificate and key for localhost, to try TLS: upcase cert, then
    /// upcase server --tls --cert cert.pem --key key.pem
    Cert(CertArgs),
    /// Print a shell completion script, for example: upcase completions bash > /etc/bash_completion.d/upcase
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): upcase(1), or with a command, its own page, for example:
    /// upcase man server > /usr/local/share/man/man1/upcase-server.1
    Man {
        /// The command whose page to print: server, client or bench
        #[arg(value_parser = ["server", "client", "bench"])]
        command: Option<String>,
    },
}

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        let what = info.to_string().replace('\n', " ");
        // `eprintln!` would panic again on a closed or full stderr, and a panic inside the
        // hook aborts: say it where that still works, else not at all.
        let _ = writeln!(
            std::io::stderr(),
            "upcase: internal error: {what}; please report it"
        );
    }));
    let cli = match parse() {
        Ok(cli) => cli,
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => return fail(2, &usage_error(&error)),
    };
    match cli.command {
        Command::Server(args) => {
            init_logging(&cli.logging, &args);
            on_runtime(Threads::Many, upcase_server::command(args))
        }
        // The client does one thing at a time, so one thread serves it: a script that calls
        // it in a loop pays for no worker threads it would not use.
        Command::Client(args) => on_runtime(Threads::One, upcase_client::command(args)),
        // The load generator runs a runtime on each of its threads, so none here.
        Command::Bench(args) => exit(upcase_bench::command(args)),
        Command::Cert(args) => match upcase_server::cert(&args) {
            Ok(said) => print_out(said.as_bytes(), "what was written"),
            Err(error) => failed(&error),
        },
        Command::Completions { shell } => completions(shell),
        Command::Man { command } => man(command.as_deref()),
    }
}

/// A failure of one of the crates, with the exit code it maps to.
trait Failure: std::fmt::Display {
    fn exit_code(&self) -> u8;
}

/// Each crate's error says its own exit code; this only lets one function take any of them.
macro_rules! failures {
    ($($error:ty),*) => {$(
        impl Failure for $error {
            fn exit_code(&self) -> u8 {
                <$error>::exit_code(self)
            }
        }
    )*};
}

failures!(
    upcase_server::ServerError,
    upcase_server::CertError,
    upcase_client::ClientError,
    upcase_bench::BenchError
);

/// How many threads a command's runtime has.
enum Threads {
    One,
    Many,
}

/// Runs `command` to its end on a runtime of `threads`; its exit code.
fn on_runtime<E: Failure>(
    threads: Threads,
    command: impl std::future::Future<Output = Result<(), E>>,
) -> ExitCode {
    let runtime = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::Many => tokio::runtime::Builder::new_multi_thread(),
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => return fail(1, &format!("cannot start the runtime: {error}")),
    };
    let outcome = runtime.block_on(command);
    // A read of standard input may still be blocked in a worker thread; don't wait for it.
    runtime.shutdown_background();
    exit(outcome)
}

/// The exit code of a command's outcome, its failure said in one line.
fn exit<E: Failure>(outcome: Result<(), E>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => failed(&error),
    }
}

fn failed(error: &impl Failure) -> ExitCode {
    fail(error.exit_code(), &error.to_string())
}

/// `upcase completions SHELL`: the completion script on stdout.
fn completions(shell: clap_complete::Shell) -> ExitCode {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "upcase", &mut script);
    print_out(&script, "the completion script")
}

/// `upcase man [COMMAND]`: the manual page on stdout.
fn man(command: Option<&str>) -> ExitCode {
    let mut page = Vec::new();
    let rendered = match command {
        None => clap_mangen::Man::new(Cli::command()).render(&mut page),
        Some(name) => {
            let mut top = Cli::command();
            top.build();
            match top.find_subcommand(name) {
                Some(sub) => clap_mangen::Man::new(sub.clone().version(env!("CARGO_PKG_VERSION")))
                    .title(format!("upcase-{name}"))
                    .render(&mut page),
                None => return fail(2, &format!("no command `{name}`")),
            }
        }
    };
    match rendered {
        Ok(()) => print_out(&page, "the manual page"),
        Err(error) => fail(1, &format!("cannot write the manual page: {error}")),
    }
}

/// Parses the command line. When its first word names a command, only that command's flags
/// are built. This is a speed trick, worth measuring: building every command's flags cost a
/// one-shot `upcase client` 123,000 of its 846,000 instructions (callgrind; docs/BENCHMARKS.md,
/// "One-shot start-up"), which a script calling it in a loop pays each time. The test below
/// holds that a command built alone reads and explains its flags as the whole line does.
fn parse() -> Result<Cli, clap::Error> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = match args.get(1).and_then(|word| word.to_str()) {
        Some(name) => only(name).unwrap_or_else(Cli::command),
        None => Cli::command(),
    };
    let matches = command.try_get_matches_from(args)?;
    Cli::from_arg_matches(&matches)
}

/// The command line with the one command `name`, as the whole one has it; `None` for any
/// other word.
fn only(name: &str) -> Option<clap::Command> {
    type Flags = fn(clap::Command) -> clap::Command;
    let (name, about, flags): (&'static str, &str, Flags) = match name {
        "server" => ("server", SERVER_ABOUT, ServerArgs::augment_args),
        "client" => ("client", CLIENT_ABOUT, ClientArgs::augment_args),
        "bench" => ("bench", BENCH_ABOUT, BenchArgs::augment_args),
        _ => return None,
    };
    let top = clap::Command::new("upcase").version(env!("CARGO_PKG_VERSION"));
    let command = flags(clap::Command::new(name)).about(about);
    Some(Logging::augment_args(
        top.subcommand_required(true).subcommand(command),
    ))
}

/// Writes `bytes` to stdout; a reader that went away early (`| head`) is not a failure.
fn print_out(bytes: &[u8], what: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => fail(1, &format!("cannot write {what}: {error}")),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    // With stderr closed or full there is nowhere to say it; the exit code still does.
    let _ = writeln!(std::io::stderr(), "upcase: {message}");
    ExitCode::from(code)
}

/// clap's error in one line: its first line, and where to read more.
fn usage_error(error: &clap::Error) -> String {
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "no command given: use 'upcase server' or 'upcase client'; see 'upcase --help'"
            .into();
    }
    // The message is the first paragraph; some (missing arguments) go on over several lines.
    let rendered = error.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = match paragraph.join(" ") {
        joined if joined.is_empty() => "invalid command line".to_owned(),
        joined => joined,
    };
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    let help = match std::env::args().nth(1).as_deref() {
        Some(sub @ ("server" | "client" | "bench")) => format!("upcase {sub} --help"),
        _ => "upcase --help".to_owned(),
    };
    format!("{first}; see '{help}'")
}

/// The server's logs go to stderr. The level is -v/-q if given, else RUST_LOG, else info.
/// The client and the load generator log nothing (their stdout is for results and their
/// stderr for errors), so they set up no logging: a one-shot client would spend a twentieth
/// of its start-up on it.
fn init_logging(logging: &Logging, server: &ServerArgs) {
    const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
    const DEFAULT: usize = 2;
    let filter = if server.inetd && upcase_server::stderr_is_a_socket() {
        // Under inetd, standard error is the client's connection.
        EnvFilter::new("off")
    } else if logging.verbose > 0 || logging.quiet > 0 {
        let level = (DEFAULT + usize::from(logging.verbose))
            .saturating_sub(usize::from(logging.quiet))
            .min(LEVELS.len() - 1);
        EnvFilter::new(LEVELS[level])
    } else {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(LEVELS[DEFAULT]))
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(upcase_server::LogWriter::stderr);
    match server.log_format {
        LogFormat::Text => log.with_ansi(std::io::stderr().is_terminal()).init(),
        // The event's fields at the top level, as the text line has them, and no spans: the
        // server logs none.
        LogFormat::Json => log
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::{Cli, only};

    /// A command parsed alone reads and explains its flags as the whole command line does.
    #[test]
    fn each_command_alone_is_the_command_in_the_whole() {
        let mut whole = Cli::command();
        whole.build();
        for name in ["server", "client", "bench"] {
            let mut alone = only(name).expect(name);
            alone.build();
            let mut from_whole = whole.find_subcommand(name).expect(name).clone();
            let mut from_alone = alone.find_subcommand(name).expect(name).clone();
            assert_eq!(
                from_alone.render_long_help().to_string(),
                from_whole.render_long_help().to_string(),
                "{name}"
            );
            assert_eq!(
                from_alone.render_help().to_string(),
                from_whole.render_help().to_string(),
                "{name}"
            );
        }
        assert!(only("help").is_none());
    }
}

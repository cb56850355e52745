use campaignd::cli::{Cli, execute, exit_status};
use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAMPAIGND_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(campaignd::store::DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: the journal and log files get plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    // Exit codes (docs/cli.md): 0 done, 1 failed, 2 bad command line
    // (clap), 3 import with rejected rows, 141 stdout closed by its reader.
    exit_status(execute(Cli::parse()).await)
}

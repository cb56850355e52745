use campaignd::cli::{Cli, execute, exit_status};
use campaignd::logging;
use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = std::env::var(logging::FORMAT_ENV).ok();
    let (format, problem) = logging::format_for(env.as_deref(), &cli.config);
    logging::init(format, campaignd::store::DEFAULT_LOG_FILTER);
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
    // Exit codes (docs/cli.md): 0 done, 1 failed, 2 bad command line
    // (clap), 3 import with rejected rows, 141 stdout closed by its reader.
    exit_status(execute(cli).await)
}

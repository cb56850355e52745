use campaignd::cli::{Cli, execute, exit_status};
use campaignd::logging;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before the runtime starts its threads (see the module).
    campaignd::allocator::init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("campaignd: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
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

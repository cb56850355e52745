//! The command line: `campaignd [--config PATH] <command>`.

mod commands;
mod explain;
mod export;
mod forwarding;
mod import;
mod out;
mod refresh;
mod setup;
mod suppress;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub use commands::execute;
pub use explain::ExplainFormat;
pub use forwarding::ForwardingCommand;
pub use out::{EXIT_ROWS_REJECTED, EXIT_STDOUT_CLOSED, exit_status};
pub use refresh::RefreshCommand;
pub use suppress::SuppressCommand;

#[derive(Debug, Parser)]
#[command(name = "campaignd", version, about = "Outbound voice-bot call campaigns across vendors")]
pub struct Cli {
    /// Config file.
    #[arg(long, global = true, env = "CAMPAIGND_CONFIG", default_value = "config.toml")]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (HTTP listener, scheduler, inbox processor, reconciler).
    Run,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the config; print every problem with its field and line.
    CheckConfig,
    /// Import contacts from a CSV file (header: phone[,case_id][,timezone][,...variables]).
    Import {
        #[arg(long)]
        campaign: String,
        file: PathBuf,
    },
    /// Show campaign state and contact counts.
    Status {
        name: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Pause a running campaign (in-flight calls finish; nothing new is dialed).
    Pause { name: String },
    /// Resume a paused campaign.
    Resume { name: String },
    /// Cancel a campaign: contacts not yet dialing are stopped.
    Cancel { name: String },
    /// Export contacts and their results.
    Export {
        #[arg(long)]
        campaign: String,
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// The suppression list: numbers no campaign may dial.
    Suppress {
        #[command(subcommand)]
        command: SuppressCommand,
    },
    /// A campaign's scheduled contact refresh: its runs, or one run now.
    Refresh {
        #[command(subcommand)]
        command: RefreshCommand,
    },
    /// Result forwarding: list pending or dead-lettered events, replay them.
    Forwarding {
        #[command(subcommand)]
        command: ForwardingCommand,
    },
    /// Why a contact was or was not called: its decisions, attempts and recent dials.
    Explain {
        #[arg(long)]
        campaign: String,
        /// The contact's number, as imported (national numbers take the campaign's country code).
        #[arg(long)]
        phone: String,
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

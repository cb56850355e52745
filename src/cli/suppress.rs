//! `campaignd suppress import|export|add|remove`: the suppression list from
//! the command line. Imports never weaken an entry (the longer-lasting entry
//! wins); only `remove` takes a number off.

use super::Format;
use super::setup::{load, open};
use crate::clock::{Clock, SystemClock};
use crate::domain::phone::E164;
use crate::domain::suppression::{Entry, parse_expiry};
use crate::store::suppressions::{self, ListFilter};
use crate::suppression_list::{self, Defaults, ListFormat};
use anyhow::Context;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum SuppressCommand {
    /// Import a CSV list (header: phone[,reason][,source][,expires_at]); `-` reads standard input.
    /// Bad rows are printed and skipped, the good ones imported; the exit code is 3 if any row was bad.
    Import {
        file: PathBuf,
        /// Reason for rows without one (required when the file has no `reason` column).
        #[arg(long)]
        reason: Option<String>,
        /// Source for rows without one.
        #[arg(long, default_value = "import")]
        source: String,
        /// Expiry for rows without one: `never`, a duration from now (`90d`), a date
        /// (`2026-12-31`, covering that whole day UTC) or an RFC 3339 time. Default: never.
        #[arg(long)]
        expires: Option<String>,
        /// Country calling code for national numbers (`62`); without it numbers need a `+`.
        #[arg(long)]
        country_code: Option<String>,
    },
    /// Write the list to standard output: entries in force, or with `--all` expired ones too.
    Export {
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
        /// Include expired entries, with an `active` column.
        #[arg(long)]
        all: bool,
    },
    /// Put one number on the list (an existing longer entry is kept).
    Add {
        phone: String,
        #[arg(long)]
        reason: String,
        /// `never` (default), a duration from now (`90d`), a date or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
        #[arg(long, default_value = "cli")]
        source: String,
        #[arg(long)]
        country_code: Option<String>,
    },
    /// Take a number off the list.
    Remove {
        phone: String,
        #[arg(long)]
        country_code: Option<String>,
    },
}

pub async fn execute(cli: &super::Cli, command: &SuppressCommand) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let conn = open(&settings).await?;
    let now = SystemClock.now();
    match command {
        SuppressCommand::Import { file, reason, source, expires, country_code } => {
            let defaults = Defaults {
                reason: reason.clone(),
                source: source.clone(),
                expires_at: expiry(expires.as_deref(), now)?,
                country_code: country_code.clone(),
            };
            let name = file.display().to_string();
            let parsed = if name == "-" {
                suppression_list::parse_csv(std::io::stdin().lock(), &defaults, now)
            } else {
                let f = std::fs::File::open(file).with_context(|| format!("cannot open {name}"))?;
                suppression_list::parse_csv(std::io::BufReader::new(f), &defaults, now)
            }
            .with_context(|| format!("{name}: nothing imported"))?;
            let report = suppression_list::import(&conn, parsed, now).await?;
            for e in &report.errors {
                eprintln!("{name}: {e}");
            }
            if report.rejected as usize > report.errors.len() {
                eprintln!("{name}: ... and {} more rejected rows", report.rejected as usize - report.errors.len());
            }
            writeln!(super::out::stdout(), "{name}: {report}")?;
            if report.rejected > 0 {
                let message = format!(
                    "{name}: {} of {} rows rejected; see the lines above (the other rows were kept)",
                    report.rejected, report.rows
                );
                return Err(super::out::Partial { code: super::out::EXIT_ROWS_REJECTED, message }.into());
            }
            Ok(())
        }
        SuppressCommand::Export { format, all } => {
            let filter = if *all { ListFilter::All } else { ListFilter::Active };
            let format = match format {
                Format::Csv => ListFormat::Csv,
                Format::Json => ListFormat::Json,
            };
            let out = std::io::BufWriter::new(super::out::stdout());
            let n = suppression_list::export(&conn, filter, format, now, out).await?;
            eprintln!("exported {n} entries");
            Ok(())
        }
        SuppressCommand::Add { phone, reason, expires, source, country_code } => {
            let phone = normalize(phone, country_code.as_deref())?;
            let entry = Entry {
                phone: phone.as_str().to_string(),
                reason: reason.clone(),
                source: source.clone(),
                expires_at: expiry(expires.as_deref(), now)?,
            };
            let counts = suppressions::upsert_many(&conn, &[entry], now).await?;
            let stored = suppressions::get(&conn, phone.as_str()).await?;
            let until = stored
                .as_ref()
                .and_then(|s| s.expires_at)
                .map_or_else(|| "never expires".to_string(), |t| format!("until {}", t.to_rfc3339()));
            let reason = stored.map(|s| s.reason).unwrap_or_default();
            let what = if counts.added > 0 {
                "added"
            } else if counts.extended > 0 {
                "extended"
            } else {
                "already listed at least as long; unchanged"
            };
            writeln!(super::out::stdout(), "{phone}: {what} ({reason}, {until})")?;
            Ok(())
        }
        SuppressCommand::Remove { phone, country_code } => {
            let phone = normalize(phone, country_code.as_deref())?;
            if !suppressions::remove(&conn, phone.as_str()).await? {
                anyhow::bail!("{phone} is not on the suppression list");
            }
            writeln!(super::out::stdout(), "{phone}: removed from the suppression list")?;
            Ok(())
        }
    }
}

fn normalize(raw: &str, country_code: Option<&str>) -> anyhow::Result<E164> {
    Ok(E164::parse(raw, country_code)?)
}

/// `--expires`: absent means never.
fn expiry(
    text: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    match text {
        Some(t) => parse_expiry(t, now).context("--expires"),
        None => Ok(None),
    }
}

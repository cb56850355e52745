//! `campaignd refresh runs|now`: a campaign's scheduled contact refresh from
//! the command line (docs/crm-refresh.md).

use super::setup::{load, open};
use crate::clock::{Clock, SystemClock};
use crate::domain::contact_refresh::Trigger;
use crate::refresh::firing::{Fired, fire};
use crate::store::{campaigns, contact_refresh};
use clap::Subcommand;
use entity::contact_refresh_run;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum RefreshCommand {
    /// A campaign's refresh runs, newest first: when, source, counts, rejected rows with their lines.
    Runs {
        #[arg(long)]
        campaign: String,
        /// At most this many runs.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the campaign's refresh once now, as a firing of its schedule would.
    Now {
        #[arg(long)]
        campaign: String,
    },
}

pub async fn execute(cli: &super::Cli, command: &RefreshCommand) -> anyhow::Result<()> {
    let settings = load(cli)?;
    let conn = open(&settings).await?;
    let mut out = super::out::stdout();
    match command {
        RefreshCommand::Runs { campaign, limit, json } => {
            let row = campaigns::find_by_name(&conn, campaign).await?;
            let runs = contact_refresh::runs(&conn, row.id, *limit).await?;
            if *json {
                let runs: Vec<_> = runs.iter().map(crate::api::refresh_runs::RefreshRun::from).collect();
                writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
            } else if runs.is_empty() {
                writeln!(out, "{campaign}: no refresh run yet")?;
            }
            for run in runs.iter().filter(|_| !*json) {
                print_run(&mut out, run)?;
            }
            Ok(())
        }
        RefreshCommand::Now { campaign } => {
            let c = settings
                .campaigns
                .iter()
                .find(|c| &c.name == campaign)
                .ok_or_else(|| anyhow::anyhow!("no campaign named `{campaign}` in {}", cli.config.display()))?;
            let Some(refresh) = &c.refresh else {
                anyhow::bail!("campaign `{campaign}` has no [campaigns.refresh] in {}", cli.config.display());
            };
            let instance = format!("cli:{}", settings.scheduler.instance_id);
            let fired =
                fire(&conn, campaign, refresh, Trigger::Manual, SystemClock.now(), &instance, &SystemClock).await?;
            let Fired::Ran(run) = fired else {
                anyhow::bail!("a run of `{campaign}` for this very instant already exists; try again");
            };
            print_run(&mut out, &run)?;
            if run.state != contact_refresh::OK {
                anyhow::bail!("{campaign}: the refresh failed: {}", run.error.as_deref().unwrap_or(""));
            }
            Ok(())
        }
    }
}

fn print_run(out: &mut impl Write, run: &contact_refresh_run::Model) -> std::io::Result<()> {
    writeln!(
        out,
        "#{} {} ({}) {}: {} rows, {} added, {} duplicates, {} rejected, {} removed; source {}",
        run.id,
        run.scheduled_for.to_rfc3339(),
        run.trigger,
        run.state,
        run.rows,
        run.added,
        run.duplicates,
        run.rejected,
        run.removed,
        run.source
    )?;
    if let Some(e) = &run.error {
        writeln!(out, "  error: {e}")?;
    }
    for r in run.rejected_rows.as_array().into_iter().flatten() {
        writeln!(
            out,
            "  line {}: {}: {}",
            r["line"],
            r["field"].as_str().unwrap_or(""),
            r["message"].as_str().unwrap_or("")
        )?;
    }
    Ok(())
}

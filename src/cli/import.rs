//! `campaignd import --campaign NAME FILE`: contacts from a CSV file. Bad
//! rows are printed with their line and skipped, the good ones kept; the exit
//! status says whether any row was rejected. A finished campaign takes no
//! contacts: nothing would ever dial them.

use super::out::{self, EXIT_ROWS_REJECTED, Partial};
use super::setup::{load, open};
use crate::clock::{Clock, SystemClock};
use crate::domain::state::CampaignState;
use crate::import::{self, ImportReport};
use crate::store::campaigns;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::Path;

pub async fn execute(cli: &super::Cli, campaign: &str, file: &Path) -> anyhow::Result<()> {
    let s = load(cli)?;
    let conn = open(&s).await?;
    let row = campaigns::find_by_name(&conn, campaign).await?;
    let state: CampaignState = row.state.parse().map_err(anyhow::Error::msg)?;
    if let Some(refusal) = finished_refusal(campaign, state) {
        anyhow::bail!(refusal);
    }
    let f = std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(len);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let reader = std::io::BufReader::with_capacity(1 << 20, f);
    let rep = import::import_csv(&conn, &row, reader, bar.as_ref(), SystemClock.now())
        .await
        .with_context(|| format!("importing {}", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let name = file.display();
    for e in &rep.errors {
        eprintln!("{name}: {e}");
    }
    if rep.rejected as usize > rep.errors.len() {
        eprintln!("{name}: ... and {} more rejected rows", rep.rejected as usize - rep.errors.len());
    }
    writeln!(
        out::stdout(),
        "{name}: {} rows, {} imported, {} duplicates skipped, {} rejected",
        rep.rows,
        rep.inserted,
        rep.duplicates,
        rep.rejected
    )?;
    if let Some(note) = waiting_note(campaign, state, &rep) {
        eprintln!("{note}");
    }
    if rep.rejected > 0 {
        return Err(Partial { code: EXIT_ROWS_REJECTED, message: rejected_summary(&name.to_string(), &rep) }.into());
    }
    Ok(())
}

/// Why contacts may not go into a campaign in `state`, and what to do instead.
/// Completed and cancelled are final (`domain::state`): no event leaves them,
/// so contacts added there would sit `pending` and never be dialed.
pub fn finished_refusal(campaign: &str, state: CampaignState) -> Option<String> {
    state.is_terminal().then(|| {
        format!(
            "campaign `{campaign}` is {state}: a finished campaign never dials again and no command reopens it, \
             so nothing was imported. To call these contacts, add a new [[campaigns]] entry to the config \
             and run `campaignd import --campaign <new name> FILE`"
        )
    })
}

/// Imported contacts that wait for the operator, and the command that lets them go.
fn waiting_note(campaign: &str, state: CampaignState, rep: &ImportReport) -> Option<String> {
    if rep.inserted == 0 {
        return None;
    }
    match state {
        CampaignState::Paused => Some(format!(
            "note: campaign `{campaign}` is paused; the new contacts are dialed after `campaignd resume {campaign}`"
        )),
        CampaignState::Draft => {
            Some(format!("note: campaign `{campaign}` is a draft; the new contacts are dialed once it is scheduled"))
        }
        _ => None,
    }
}

/// `"3 of 120 rows rejected; see the lines above (the other rows were imported)"`.
pub fn rejected_summary(name: &str, rep: &ImportReport) -> String {
    format!("{name}: {} of {} rows rejected; see the lines above (the other rows were kept)", rep.rejected, rep.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_finished_campaigns_refuse_contacts_and_the_refusal_says_what_to_do() {
        for state in CampaignState::ALL {
            let refusal = finished_refusal("spring", *state);
            assert_eq!(refusal.is_some(), state.is_terminal(), "{state}");
            if let Some(text) = refusal {
                assert!(text.contains(&format!("campaign `spring` is {state}")), "{text}");
                assert!(text.contains("nothing was imported") && text.contains("new [[campaigns]] entry"), "{text}");
            }
        }
    }

    #[test]
    fn paused_campaigns_name_the_command_that_dials_the_new_contacts() {
        let rep = ImportReport { rows: 2, inserted: 2, ..ImportReport::default() };
        let note = waiting_note("spring", CampaignState::Paused, &rep).unwrap();
        assert!(note.contains("campaignd resume spring"), "{note}");
        assert_eq!(waiting_note("spring", CampaignState::Running, &rep), None);
        let none_new = ImportReport { rows: 2, duplicates: 2, ..ImportReport::default() };
        assert_eq!(waiting_note("spring", CampaignState::Paused, &none_new), None);
    }
}

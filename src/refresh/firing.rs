//! One firing of a campaign's refresh: take the firing (its run row), read
//! the source, import its rows with `import`'s own rules, apply the
//! campaign's `on_removed` policy, and record how it went.

use super::source;
use crate::clock::Clock;
use crate::config::RefreshSettings;
use crate::domain::contact_refresh::{Trigger, to_stop};
use crate::import::{ImportError, ImportReport, Row, RowContext, RowSource, import_rows};
use crate::store::contact_refresh::{self, NewRun, RunOutcome};
use crate::store::db::{Writer, begin_write};
use crate::store::{Db, StoreError, campaigns};
use chrono::{DateTime, Utc};
use entity::{campaign, contact_refresh_run};
use std::collections::HashSet;

/// How a firing went for this caller.
#[derive(Debug)]
pub enum Fired {
    /// Another instance took the firing (or already ran it).
    Skipped,
    /// This caller ran it; the run as recorded.
    Ran(Box<contact_refresh_run::Model>),
}

/// Run the firing `scheduled_for` of campaign `name`'s refresh, unless
/// another caller has taken it. A store failure before the run row exists
/// is returned; after it, the run row says how far it got.
pub async fn fire(
    db: &Db,
    name: &str,
    refresh: &RefreshSettings,
    trigger: Trigger,
    scheduled_for: DateTime<Utc>,
    instance_id: &str,
    clock: &dyn Clock,
) -> Result<Fired, StoreError> {
    let camp = campaigns::find_by_name(db, name).await?;
    let shown = refresh.source.describe();
    let new = NewRun { campaign_id: camp.id, scheduled_for, trigger: trigger.as_str(), instance_id, source: &shown };
    let Some(id) = contact_refresh::claim_firing(db, &new, clock.now()).await? else {
        tracing::debug!(campaign = %name, %scheduled_for, "refresh firing taken by another instance");
        return Ok(Fired::Skipped);
    };
    let outcome = refresh_contacts(db, &camp, refresh, clock).await;
    let run = contact_refresh::finish_run(db, id, outcome, clock.now()).await?;
    if run.state == contact_refresh::OK {
        tracing::info!(
            campaign = %name, trigger = %run.trigger, source = %run.source, added = run.added,
            removed = run.removed, rejected = run.rejected, "contact refresh done"
        );
    } else {
        tracing::warn!(
            campaign = %name, trigger = %run.trigger, source = %run.source,
            "contact refresh failed: {}", run.error.as_deref().unwrap_or("")
        );
    }
    Ok(Fired::Ran(Box::new(run)))
}

/// Read, import, remove. Never fails: a failure is the outcome's `error`,
/// and a failure before the removal removes nothing (a list read halfway
/// would stop every contact of its unread half).
async fn refresh_contacts(db: &Db, camp: &campaign::Model, refresh: &RefreshSettings, clock: &dyn Clock) -> RunOutcome {
    let failed = |error: String, outcome: RunOutcome| RunOutcome { ok: false, error: Some(error), ..outcome };
    let ctx = match RowContext::of(camp) {
        Ok(ctx) => ctx,
        Err(e) => return failed(e.to_string(), RunOutcome::default()),
    };
    let opened = match source::open(&refresh.source, ctx).await {
        Ok(opened) => opened,
        Err(e) => return failed(e, RunOutcome::default()),
    };
    let mut outcome = RunOutcome { source: Some(opened.shown), ..RunOutcome::default() };
    let mut in_source = HashSet::new();
    let rows = Collect { rows: opened.rows, phones: &mut in_source };
    match import_rows(db, camp, rows, clock.now()).await {
        Ok(report) => counts(&mut outcome, &report),
        Err(ImportError::Interrupted { error, kept }) => {
            counts(&mut outcome, &kept);
            let why = format!("reading stopped after {} rows ({error}); the rows before were imported", kept.rows);
            return failed(why, outcome);
        }
        Err(e) => return failed(e.to_string(), outcome),
    }
    match remove(db, camp, refresh, &in_source, clock.now()).await {
        Ok(removed) => RunOutcome { ok: true, removed, ..outcome },
        Err(e) => failed(e, outcome),
    }
}

fn counts(outcome: &mut RunOutcome, report: &ImportReport) {
    outcome.rows = report.rows;
    outcome.added = report.inserted;
    outcome.duplicates = report.duplicates;
    outcome.rejected = report.rejected;
    outcome.rejected_rows = report
        .errors
        .iter()
        .map(|e| serde_json::json!({"line": e.line, "field": e.field, "message": e.message}))
        .collect();
}

/// Apply `on_removed` to the campaign's open contacts the source no longer lists.
async fn remove(
    db: &Db,
    camp: &campaign::Model,
    refresh: &RefreshSettings,
    in_source: &HashSet<String>,
    now: DateTime<Utc>,
) -> Result<u64, String> {
    let open = contact_refresh::open_contacts(db, camp.id).await.map_err(|e| e.to_string())?;
    let ids = to_stop(refresh.on_removed, &open, in_source).map_err(|e| e.to_string())?;
    if ids.is_empty() {
        return Ok(0);
    }
    let reason = "no longer in the refreshed contact list (on_removed = \"stop\")";
    let txn = begin_write(db, Writer::Other).await.map_err(|e| e.to_string())?;
    let stopped = contact_refresh::stop_contacts(&txn, camp.id, &ids, reason, now).await.map_err(|e| e.to_string())?;
    txn.commit().await.map_err(|e| e.to_string())?;
    Ok(stopped)
}

/// The import's rows, passed through while the numbers of the valid ones
/// are noted: the numbers "in the source", as `import` tells duplicates.
struct Collect<'a, S> {
    rows: S,
    phones: &'a mut HashSet<String>,
}

impl<S: RowSource + Send> RowSource for Collect<'_, S> {
    async fn next_batch(&mut self) -> Result<Option<Vec<Row>>, ImportError> {
        let batch = self.rows.next_batch().await?;
        for row in batch.iter().flatten().flatten() {
            self.phones.insert(row.phone.clone());
        }
        Ok(batch)
    }
}

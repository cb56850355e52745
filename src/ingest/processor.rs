//! Drains the inbox: parse, dedupe, apply to attempts, run the recall policy.
//! A page of rows is processed in one transaction together with its effects
//! (one fsync per page, not per row), so a crash either applies a row
//! completely or leaves it pending for the next drain.

use crate::context::{Ctx, load_campaign};
use crate::domain::recall::AttemptResult;
use crate::store::apply::{Applied, apply_result, find_attempt};
use crate::store::campaigns::CampaignCtx;
use crate::store::db::begin_write;
use crate::store::{StoreError, inbox};
use entity::callback_inbox;
use sea_orm::DatabaseTransaction;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub rows: usize,
    pub applied: usize,
    pub duplicates: usize,
    pub late: usize,
    pub unmatched: usize,
    pub rejected: usize,
    /// Rows that failed to apply and stay pending for the next pass.
    pub failed: usize,
}

impl DrainReport {
    fn merge(&mut self, o: &DrainReport) {
        self.rows += o.rows;
        self.applied += o.applied;
        self.duplicates += o.duplicates;
        self.late += o.late;
        self.unmatched += o.unmatched;
        self.rejected += o.rejected;
        self.failed += o.failed;
    }
}

/// One pass over the pending rows, in id order. A page is applied in one
/// transaction; if it fails, its rows are retried one per transaction so a
/// single poison row cannot hold back the others. Rows that still fail stay
/// pending (never dropped) and are tried again on the next pass.
pub async fn drain(ctx: &Ctx) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let mut campaigns: HashMap<i64, CampaignCtx> = HashMap::new();
    let mut after = 0;
    loop {
        let rows = inbox::pending_after(&ctx.db, after, 200).await?;
        let Some(last) = rows.last() else { return Ok(report) };
        after = last.id;
        let mut page = DrainReport::default();
        match apply_page(ctx, &rows, &mut campaigns, &mut page).await {
            Ok(()) => report.merge(&page),
            Err(e) => {
                tracing::warn!(error = %e, rows = rows.len(), "inbox page failed; retrying its rows one by one");
                campaigns.clear();
                for row in &rows {
                    let mut one = DrainReport::default();
                    match apply_page(ctx, std::slice::from_ref(row), &mut campaigns, &mut one).await {
                        Ok(()) => report.merge(&one),
                        Err(e) => {
                            metrics::counter!("campaignd_inbox_failures_total").increment(1);
                            tracing::error!(inbox_id = row.id, error = %e, "callback could not be applied; left pending");
                            report.failed += 1;
                        }
                    }
                }
            }
        }
    }
}

async fn apply_page(
    ctx: &Ctx,
    rows: &[callback_inbox::Model],
    campaigns: &mut HashMap<i64, CampaignCtx>,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    let txn = begin_write(&ctx.db).await?;
    for row in rows {
        process_row(ctx, &txn, row, campaigns, report).await?;
        report.rows += 1;
    }
    txn.commit().await?;
    Ok(())
}

async fn process_row(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &callback_inbox::Model,
    campaigns: &mut HashMap<i64, CampaignCtx>,
    report: &mut DrainReport,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    if inbox::seen_before(txn, row).await? {
        inbox::mark(txn, row.id, "duplicate", None, 0, now).await?;
        report.duplicates += 1;
        metrics::counter!("campaignd_callback_duplicates_total").increment(1);
        return Ok(());
    }
    let Some(vendor) = ctx.vendors.get(&row.vendor_id) else {
        inbox::mark(txn, row.id, "rejected", Some("vendor is no longer configured".into()), 0, now).await?;
        report.rejected += 1;
        return Ok(());
    };
    let events = match vendor.adapter.parse_callback(&row.body) {
        Ok(events) => events,
        Err(e) => {
            inbox::mark(txn, row.id, "rejected", Some(e.to_string()), 0, now).await?;
            report.rejected += 1;
            return Ok(());
        }
    };
    let mut applied = 0;
    for ev in events.iter().filter(|e| e.is_final) {
        let Some(attempt) = find_attempt(txn, &row.vendor_id, ev).await? else {
            tracing::warn!(vendor = %row.vendor_id, inbox_id = row.id, "callback for an attempt we do not know");
            metrics::counter!("campaignd_callback_unmatched_total").increment(1);
            report.unmatched += 1;
            continue;
        };
        let camp = match campaigns.entry(attempt.campaign_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(load_campaign(txn, attempt.campaign_id).await?),
        };
        let result = AttemptResult::Completed(ev.outcome.clone());
        match apply_result(txn, camp, &attempt, &result, Some(ev), now).await? {
            Applied::Finished { .. } => {
                applied += 1;
                metrics::counter!("campaignd_results_total", "vendor" => row.vendor_id.clone(), "disposition" => ev.outcome.disposition.as_str()).increment(1);
            }
            Applied::AlreadyFinished => report.late += 1,
        }
    }
    inbox::mark(txn, row.id, "processed", None, applied, now).await?;
    report.applied += applied as usize;
    Ok(())
}

/// Drain whenever a callback is stored, and every second in case a row was
/// stored by another process or left pending by a crash.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    loop {
        match drain(&ctx).await {
            Ok(r) if r.rows > 0 => tracing::info!(
                callbacks = r.rows,
                results = r.applied,
                duplicates = r.duplicates,
                late = r.late,
                unmatched = r.unmatched,
                "callbacks applied"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "inbox processing failed; retrying"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ctx.inbox_notify.notified() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
    // Apply whatever was stored before the listener closed.
    if let Err(e) = drain(&ctx).await {
        tracing::error!(error = %e, "final inbox drain failed; rows stay pending for the next start");
    }
    tracing::info!("inbox processor stopped");
}

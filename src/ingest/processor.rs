//! Drains the inbox: parse, dedupe, apply to attempts, run the recall policy.
//! A page of rows is processed in one transaction together with its effects
//! (one fsync per page, not per row), so a crash either applies a row
//! completely or leaves it pending for the next drain.

use crate::context::{Ctx, load_campaign};
use crate::domain::compliance::ComplianceSettings;
use crate::domain::recall::AttemptResult;
use crate::store::apply::{Applied, AttemptLocks, WriteBuffer, apply_result_buffered, find_attempt};
use crate::store::campaigns::CampaignCtx;
use crate::store::db::begin_write;
use crate::store::{StoreError, inbox};
use crate::vendors::CallEvent;
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
    /// Records inside otherwise good bodies that could not be read.
    pub rejected_records: usize,
    /// Rows that failed to apply and stay pending for the next pass.
    pub failed: usize,
    /// Young rows naming an attempt we cannot match yet; they stay pending.
    pub waiting: usize,
}

impl DrainReport {
    fn merge(&mut self, o: &DrainReport) {
        self.rows += o.rows;
        self.applied += o.applied;
        self.duplicates += o.duplicates;
        self.late += o.late;
        self.unmatched += o.unmatched;
        self.rejected += o.rejected;
        self.rejected_records += o.rejected_records;
        self.failed += o.failed;
        self.waiting += o.waiting;
    }
}

/// One pass over the pending rows, in id order. A page is applied in one
/// transaction; if it fails, its rows are retried one per transaction so a
/// single poison row cannot hold back the others. Rows that still fail stay
/// pending (never dropped) and are tried again on the next pass.
///
/// Several instances drain the same inbox: each page's rows are locked by
/// the transaction that applies them, and rows locked by another instance
/// are skipped, so every row is applied by exactly one of them.
pub async fn drain(ctx: &Ctx) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let mut campaigns: HashMap<i64, CampaignCtx> = HashMap::new();
    let mut after = 0;
    loop {
        let mut page = DrainReport::default();
        match apply_page(ctx, after, None, &mut campaigns, &mut page).await {
            Ok(Some(last)) => {
                after = last;
                report.merge(&page);
            }
            Ok(None) => return Ok(report),
            Err(e) => {
                let rows = inbox::pending_after(&ctx.db, after, PAGE).await?;
                tracing::warn!(error = %e, rows = rows.len(), "inbox page failed; retrying its rows one by one");
                campaigns.clear();
                for row in &rows {
                    let mut one = DrainReport::default();
                    match apply_page(ctx, row.id - 1, Some(row.id), &mut campaigns, &mut one).await {
                        Ok(_) => report.merge(&one),
                        Err(e) => {
                            metrics::counter!("campaignd_inbox_failures_total").increment(1);
                            tracing::error!(inbox_id = row.id, error = %e, "callback could not be applied; left pending");
                            report.failed += 1;
                        }
                    }
                }
                let Some(last) = rows.last() else { return Ok(report) };
                after = last.id;
            }
        }
    }
}

/// Rows per page (and per transaction).
const PAGE: u64 = 200;

/// Apply the next page of pending rows after `after` (only row `only`, if
/// given) in one transaction; the last row id, or `None` when there was none.
async fn apply_page(
    ctx: &Ctx,
    after: i64,
    only: Option<i64>,
    campaigns: &mut HashMap<i64, CampaignCtx>,
    report: &mut DrainReport,
) -> Result<Option<i64>, StoreError> {
    let txn = begin_write(&ctx.db).await?;
    let rows = inbox::claim_pending(&txn, after, only, PAGE).await?;
    let Some(last) = rows.last().map(|r| r.id) else {
        txn.commit().await?;
        return Ok(None);
    };
    lock_page_attempts(ctx, &txn, &rows).await?;
    let mut dials = WriteBuffer::default();
    for row in &rows {
        process_row(ctx, &txn, row, campaigns, report, &mut dials).await?;
        report.rows += 1;
    }
    dials.flush(&txn).await?;
    txn.commit().await?;
    Ok(Some(last))
}

/// Lock the attempts the page's results are for, in id order, before the
/// first is applied: rows come in arrival order, and two instances' pages (or
/// a page and a dispatch write-back) that share attempts would otherwise lock
/// them in opposite orders and deadlock. See [`AttemptLocks`].
async fn lock_page_attempts(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    rows: &[callback_inbox::Model],
) -> Result<(), StoreError> {
    if !AttemptLocks::needed(txn) {
        return Ok(());
    }
    let mut locks = AttemptLocks::default();
    for row in rows {
        let Some(vendor) = ctx.vendors.get(&row.vendor_id) else { continue };
        // A row that does not parse is rejected by `process_row`; nothing to lock.
        let Ok(parsed) = vendor.adapter.parse_callback(&row.body) else { continue };
        for ev in parsed.events.iter().filter(|e| e.is_final) {
            locks.add_event(txn, &row.vendor_id, ev).await?;
        }
    }
    locks.lock(txn).await
}

async fn process_row(
    ctx: &Ctx,
    txn: &DatabaseTransaction,
    row: &callback_inbox::Model,
    campaigns: &mut HashMap<i64, CampaignCtx>,
    report: &mut DrainReport,
    dials: &mut WriteBuffer,
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
    let parsed = match vendor.adapter.parse_callback(&row.body) {
        Ok(parsed) => parsed,
        Err(e) => {
            inbox::mark(txn, row.id, "rejected", Some(e.to_string()), 0, now).await?;
            report.rejected += 1;
            return Ok(());
        }
    };
    // Records that could not be read are kept for audit (once, however
    // often the row is passed over) and the row says so; the good records
    // beside them apply as usual.
    let (rejected_note, newly_rejected) = inbox::record_rejects(txn, row, &parsed.rejected).await?;
    if newly_rejected > 0 {
        report.rejected_records += newly_rejected as usize;
        metrics::counter!("campaignd_callback_records_rejected_total", "vendor" => row.vendor_id.clone())
            .increment(newly_rejected);
        for r in &parsed.rejected {
            tracing::warn!(vendor = %row.vendor_id, inbox_id = row.id, record = r.index, reason = %r.reason, "callback record rejected; kept for audit");
        }
    }
    let events = parsed.events;
    // A vendor can call back before we have recorded its answer to the
    // dispatch (the task id that (task, phone) matching needs). Such a
    // callback waits, pending, for up to `dispatch_timeout` instead of being
    // dropped as unmatched.
    let young =
        row.received_at > now - chrono::Duration::from_std(ctx.settings.scheduler.dispatch_timeout).unwrap_or_default();
    let (mut applied, mut unmatched) = (0, 0);
    for ev in events.iter().filter(|e| e.is_final) {
        match apply_event(txn, &ctx.settings.compliance, &row.vendor_id, ev, campaigns, now, dials).await? {
            EventApplied::Applied => applied += 1,
            EventApplied::Late => report.late += 1,
            EventApplied::Unmatched => unmatched += 1,
        }
    }
    report.applied += applied as usize;
    if unmatched > 0 && young {
        // Keep it pending; what did match is applied now and counted on the
        // row, and will be found finished (late) on the next pass.
        inbox::add_events(txn, row.id, applied).await?;
        report.waiting += 1;
        return Ok(());
    }
    if unmatched > 0 {
        tracing::warn!(vendor = %row.vendor_id, inbox_id = row.id, events = unmatched, "callback for attempts we do not know (no reference, call id or task of ours, and no attempt of this number at this vendor before the call's time)");
        metrics::counter!("campaignd_callback_unmatched_total").increment(unmatched as u64);
        report.unmatched += unmatched;
    }
    let applied = row.events + applied;
    inbox::mark(txn, row.id, "processed", rejected_note, applied, now).await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApplied {
    Applied,
    /// The attempt was already finished (duplicate, or result seen by poll and callback).
    Late,
    Unmatched,
}

/// Apply one final vendor event (from a callback or a poll) to its attempt.
/// The attempt fence makes a second application of the same result a no-op.
/// Flush `dials` before committing `txn`.
pub async fn apply_event(
    txn: &DatabaseTransaction,
    compliance: &ComplianceSettings,
    vendor_id: &str,
    ev: &CallEvent,
    campaigns: &mut HashMap<i64, CampaignCtx>,
    now: chrono::DateTime<chrono::Utc>,
    dials: &mut WriteBuffer,
) -> Result<EventApplied, StoreError> {
    // Counted by the caller once it gives the event up, not on every pass
    // a young callback waits through.
    let Some(attempt) = find_attempt(txn, vendor_id, ev).await? else { return Ok(EventApplied::Unmatched) };
    let camp = match campaigns.entry(attempt.campaign_id) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(load_campaign(txn, attempt.campaign_id, compliance).await?)
        }
    };
    let result = AttemptResult::Completed(ev.outcome.clone());
    Ok(match apply_result_buffered(txn, camp, &attempt, &result, Some(ev), now, dials).await? {
        Applied::Finished { .. } => {
            metrics::counter!("campaignd_results_total", "vendor" => vendor_id.to_string(), "disposition" => ev.outcome.disposition.as_str()).increment(1);
            EventApplied::Applied
        }
        Applied::AlreadyFinished => EventApplied::Late,
    })
}

/// Drain whenever a callback is stored, and every second in case a row was
/// stored by another process or left pending by a crash.
pub async fn run(ctx: Ctx, shutdown: CancellationToken) {
    let mut failures = crate::failure_log::FailureLog::new("inbox processing");
    loop {
        let drained = drain(&ctx).await;
        match &drained {
            Ok(_) => failures.succeeded(),
            Err(e) => {
                metrics::counter!("campaignd_loop_failures_total", "loop" => "inbox").increment(1);
                failures.failed(e);
            }
        }
        match drained {
            Ok(r) if r.rows > r.waiting => tracing::info!(
                callbacks = r.rows - r.waiting,
                results = r.applied,
                duplicates = r.duplicates,
                late = r.late,
                unmatched = r.unmatched,
                rejected_records = r.rejected_records,
                waiting = r.waiting,
                "callbacks applied"
            ),
            Ok(_) | Err(_) => {}
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

//! Drains the inbox: parse, dedupe, apply to attempts, run the recall policy.
//! A page of rows is processed in one transaction together with its effects
//! (one fsync per page, not per row), so a crash either applies a row
//! completely or leaves it pending for the next drain.

use crate::context::Ctx;
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::compliance::ComplianceSettings;
use crate::domain::inbox_wait::{self, Wait};
use crate::domain::recall::AttemptResult;
use crate::domain::state::InboxState;
use crate::store::Txn;
use crate::store::apply::{Applied, AttemptLocks, WriteBuffer, apply_result_buffered, find_attempt};
use crate::store::db::begin_write;
use crate::store::{StoreError, inbox};
use crate::vendors::ParsedCallback;
use chrono::{DateTime, Utc};
use entity::callback_inbox;
use std::collections::HashMap;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Rows looked at (each once per pass: a row that waits is due again
    /// only after its backoff or when woken).
    pub rows: usize,
    pub applied: usize,
    pub duplicates: usize,
    pub late: usize,
    /// Events given up as matching no attempt of ours: counted once, when
    /// their row expires, however often it was looked at before.
    pub unmatched: usize,
    pub rejected: usize,
    /// Records inside otherwise good bodies that could not be read.
    pub rejected_records: usize,
    /// Rows that failed to apply and stay pending (backing off) for a later pass.
    pub failed: usize,
    /// Young rows naming an attempt we cannot match yet; they stay pending
    /// until their backoff ends or what they wait for is recorded.
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

/// Counters of one page, emitted after its transaction commits: a page that
/// fails and is retried row by row must not count its events twice.
#[derive(Default)]
struct PageCounts {
    report: DrainReport,
    /// Newly rejected records per vendor.
    rejected_records: HashMap<String, u64>,
    /// (vendor, disposition) of each applied result.
    results: Vec<(String, &'static str)>,
}

impl PageCounts {
    fn emit(self) -> DrainReport {
        let r = &self.report;
        if r.duplicates > 0 {
            metrics::counter!("campaignd_callback_duplicates_total").increment(r.duplicates as u64);
        }
        if r.unmatched > 0 {
            metrics::counter!("campaignd_callback_unmatched_total").increment(r.unmatched as u64);
        }
        for (vendor, n) in self.rejected_records {
            metrics::counter!("campaignd_callback_records_rejected_total", "vendor" => vendor).increment(n);
        }
        for (vendor, disposition) in self.results {
            metrics::counter!("campaignd_results_total", "vendor" => vendor, "disposition" => disposition).increment(1);
        }
        self.report
    }
}

/// One pass over the rows due now, oldest first. A page is applied in one
/// transaction; if it fails, its rows are retried one per transaction so a
/// single poison row cannot hold back the others. Rows that still fail stay
/// pending (never dropped) and back off before they are tried again.
///
/// A row that waits (its call cannot be matched yet) is due again only after
/// its backoff or when what it waits for is recorded, so a pass costs the
/// rows that arrived or came due, not every waiting row.
///
/// Several instances drain the same inbox: each page's rows are locked by
/// the transaction that applies them, and rows locked by another instance
/// are skipped, so every row is applied by exactly one of them.
pub async fn drain(ctx: &Ctx) -> Result<DrainReport, StoreError> {
    // One `now` per pass: rows that arrive or come due during the pass wait
    // for the next one, so a pass always ends.
    let now = ctx.clock.now();
    let mut report = DrainReport::default();
    let mut campaigns: HashMap<i64, Campaign> = HashMap::new();
    loop {
        let mut page = PageCounts::default();
        match apply_page(ctx, now, None, &mut campaigns, &mut page).await {
            Ok(true) => report.merge(&page.emit()),
            Ok(false) => return Ok(report),
            Err(e) => {
                let ids = inbox::due_ids(&ctx.db, now, PAGE).await?;
                tracing::warn!(error = %e, rows = ids.len(), "inbox page failed; retrying its rows one by one");
                campaigns.clear();
                if ids.is_empty() {
                    return Ok(report);
                }
                for id in ids {
                    let mut one = PageCounts::default();
                    match apply_page(ctx, now, Some(id), &mut campaigns, &mut one).await {
                        Ok(_) => report.merge(&one.emit()),
                        Err(e) => {
                            metrics::counter!("campaignd_inbox_failures_total").increment(1);
                            tracing::error!(inbox_id = id, error = %e, "callback could not be applied; left pending");
                            back_off_failed(ctx, id, now).await?;
                            report.failed += 1;
                        }
                    }
                }
            }
        }
    }
}

/// Rows per page (and per transaction).
const PAGE: u64 = 200;

/// A row that failed to apply is tried again after a backoff, not in this
/// pass again (and not in a tight loop on every pass after).
async fn back_off_failed(ctx: &Ctx, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(received_at) = inbox::received_at(&ctx.db, id).await? else { return Ok(()) };
    inbox::retry_at(&ctx.db, id, now + inbox_wait::backoff(received_at, now)).await
}

/// Apply the next page of rows due at `now` (only row `only`, if given) in
/// one transaction; false when there was none.
async fn apply_page(
    ctx: &Ctx,
    now: DateTime<Utc>,
    only: Option<i64>,
    campaigns: &mut HashMap<i64, Campaign>,
    counts: &mut PageCounts,
) -> Result<bool, StoreError> {
    let txn = begin_write(&ctx.db).await?;
    let rows = inbox::claim_due(&txn, now, only, PAGE).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(false);
    }
    // Each row is parsed once here, for the locks and for applying it.
    let parsed: Vec<Parsed> = rows.iter().map(|row| parse_row(ctx, row)).collect();
    lock_page_attempts(&txn, &rows, &parsed).await?;
    let mut page = Page { campaigns, counts, dials: WriteBuffer::default() };
    let mut finished = Vec::with_capacity(rows.len());
    for (row, parsed) in rows.iter().zip(parsed) {
        if process_row(ctx, &txn, row, parsed, now, &mut page).await? == Row::Finished {
            finished.push(row.id);
        }
        page.counts.report.rows += 1;
    }
    page.dials.flush(&txn).await?;
    inbox::forget_waits(&txn, &finished).await?;
    txn.commit().await?;
    Ok(true)
}

/// Lock the attempts the page's results are for, in id order, before the
/// first is applied: rows come in arrival order, and two instances' pages (or
/// a page and a dispatch write-back) that share attempts would otherwise lock
/// them in opposite orders and deadlock. See [`AttemptLocks`].
async fn lock_page_attempts(txn: &Txn, rows: &[callback_inbox::Model], parsed: &[Parsed]) -> Result<(), StoreError> {
    if !AttemptLocks::needed(txn) {
        return Ok(());
    }
    let mut locks = AttemptLocks::default();
    for (row, parsed) in rows.iter().zip(parsed) {
        // A row that does not parse is rejected by `process_row`; nothing to lock.
        let Parsed::Read(parsed) = parsed else { continue };
        for ev in parsed.events.iter().filter(|e| e.is_final) {
            locks.add_event(txn, &row.vendor_id, ev).await?;
        }
    }
    locks.lock(txn).await
}

/// What a page's rows share while they are applied: the campaigns loaded so
/// far, the counts, and the dials and audit rows written at its end.
struct Page<'a> {
    campaigns: &'a mut HashMap<i64, Campaign>,
    counts: &'a mut PageCounts,
    dials: WriteBuffer,
}

/// A stored callback as its vendor's adapter reads it.
enum Parsed {
    /// The vendor is no longer configured.
    NoVendor,
    /// The body does not read (why).
    Unreadable(String),
    Read(ParsedCallback),
}

fn parse_row(ctx: &Ctx, row: &callback_inbox::Model) -> Parsed {
    let Some(vendor) = ctx.vendors.get(&row.vendor_id) else { return Parsed::NoVendor };
    match vendor.adapter.parse_callback(&row.body) {
        Ok(parsed) => Parsed::Read(parsed),
        Err(e) => Parsed::Unreadable(e.to_string()),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Row {
    Finished,
    Waiting,
}

async fn process_row(
    ctx: &Ctx,
    txn: &Txn,
    row: &callback_inbox::Model,
    parsed: Parsed,
    now: DateTime<Utc>,
    page: &mut Page<'_>,
) -> Result<Row, StoreError> {
    let Page { campaigns, counts, dials } = page;
    let report = &mut counts.report;
    if inbox::seen_before(txn, row).await? {
        inbox::mark(txn, row.id, InboxState::Duplicate, None, 0, now).await?;
        report.duplicates += 1;
        return Ok(Row::Finished);
    }
    let parsed = match parsed {
        Parsed::Read(parsed) => parsed,
        Parsed::NoVendor => {
            inbox::mark(txn, row.id, InboxState::Rejected, Some("vendor is no longer configured".into()), 0, now)
                .await?;
            report.rejected += 1;
            return Ok(Row::Finished);
        }
        Parsed::Unreadable(e) => {
            inbox::mark(txn, row.id, InboxState::Rejected, Some(e), 0, now).await?;
            report.rejected += 1;
            return Ok(Row::Finished);
        }
    };
    // Records that could not be read are kept for audit (once, however
    // often the row is passed over) and the row says so; the good records
    // beside them apply as usual.
    let (rejected_note, newly_rejected) = inbox::record_rejects(txn, row, &parsed.rejected).await?;
    if newly_rejected > 0 {
        report.rejected_records += newly_rejected as usize;
        *counts.rejected_records.entry(row.vendor_id.clone()).or_default() += newly_rejected;
        for r in &parsed.rejected {
            tracing::warn!(vendor = %row.vendor_id, inbox_id = row.id, record = r.index, reason = %r.reason, "callback record rejected; kept for audit");
        }
    }
    let (mut applied, mut unmatched) = (0, 0);
    let mut wait_for = Vec::new();
    for ev in parsed.events.iter().filter(|e| e.is_final) {
        match apply_uncounted(txn, &ctx.settings.compliance, &row.vendor_id, ev, campaigns, now, dials).await? {
            EventApplied::Applied => {
                applied += 1;
                counts.results.push((row.vendor_id.clone(), ev.outcome.disposition.as_str()));
            }
            EventApplied::Late => report.late += 1,
            EventApplied::Unmatched => {
                unmatched += 1;
                wait_for.extend(ev.vendor_task_id.as_deref().map(inbox::wait_key_task));
                wait_for.extend(ev.external_call_id.as_deref().map(inbox::wait_key_call));
            }
        }
    }
    report.applied += applied as usize;
    if unmatched > 0 {
        // A vendor can call back before we have recorded its answer to the
        // dispatch (the task id that (task, phone) matching needs). Such a
        // callback waits, pending, for up to `dispatch_timeout` instead of
        // being dropped as unmatched.
        let timeout = chrono::Duration::from_std(ctx.settings.scheduler.dispatch_timeout).unwrap_or_default();
        if let Wait::Until(until) = inbox_wait::unmatched(row.received_at, now, timeout) {
            // What did match is applied now and counted on the row, and will
            // be found finished (late) when the row is looked at again.
            inbox::add_events(txn, row.id, applied).await?;
            inbox::wait(txn, row, until, &wait_for).await?;
            report.waiting += 1;
            return Ok(Row::Waiting);
        }
        // One line per row would let a flood of callbacks for unknown calls
        // flood the log too: rows are named at debug, the pass sums them up.
        tracing::debug!(vendor = %row.vendor_id, inbox_id = row.id, events = unmatched, "callback for attempts we do not know");
        report.unmatched += unmatched;
    }
    let applied = row.events + applied;
    inbox::mark(txn, row.id, InboxState::Processed, rejected_note, applied, now).await?;
    Ok(Row::Finished)
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
    txn: &Txn,
    compliance: &ComplianceSettings,
    vendor_id: &str,
    ev: &CallEvent,
    campaigns: &mut HashMap<i64, Campaign>,
    now: DateTime<Utc>,
    dials: &mut WriteBuffer,
) -> Result<EventApplied, StoreError> {
    let applied = apply_uncounted(txn, compliance, vendor_id, ev, campaigns, now, dials).await?;
    if applied == EventApplied::Applied {
        metrics::counter!("campaignd_results_total", "vendor" => vendor_id.to_string(), "disposition" => ev.outcome.disposition.as_str()).increment(1);
    }
    Ok(applied)
}

/// [`apply_event`] without counting the result: the processor counts a
/// page's results once it has committed.
async fn apply_uncounted(
    txn: &Txn,
    compliance: &ComplianceSettings,
    vendor_id: &str,
    ev: &CallEvent,
    campaigns: &mut HashMap<i64, Campaign>,
    now: DateTime<Utc>,
    dials: &mut WriteBuffer,
) -> Result<EventApplied, StoreError> {
    // Counted by the caller once it gives the event up, not on every pass
    // a young callback waits through.
    let Some(attempt) = find_attempt(txn, vendor_id, ev).await? else { return Ok(EventApplied::Unmatched) };
    let camp = match campaigns.entry(attempt.campaign_id) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            e.insert(crate::store::campaigns::load(txn, attempt.campaign_id, compliance).await?)
        }
    };
    let result = AttemptResult::Completed(ev.outcome.clone());
    Ok(match apply_result_buffered(txn, camp, &attempt, &result, Some(ev), now, dials).await? {
        Applied::Finished { .. } => EventApplied::Applied,
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
        if let Ok(r) = &drained
            && r.unmatched > 0
        {
            tracing::warn!(
                events = r.unmatched,
                "callbacks for attempts we do not know given up (no reference, call id or task of ours, and no \
                 attempt of the number at that vendor before the call's time); their rows are in callback_inbox"
            );
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

//! Drains the inbox: parse, dedupe, apply to attempts, run the recall policy.
//! A page of rows is processed in one transaction together with its effects
//! (one fsync per page, not per row), so a crash either applies a row
//! completely or leaves it pending for the next drain.

use super::inbox_gauges::InboxGauges;
use super::page_apply::{Pacing, apply_page};
use crate::context::Ctx;
use crate::domain::call_event::CallEvent;
use crate::domain::callback_lag::CallbackLag;
use crate::domain::campaign::Campaign;
use crate::domain::compliance::ComplianceSettings;
use crate::domain::inbox_wait;
use crate::domain::recall::AttemptResult;
use crate::store::Txn;
use crate::store::apply::{Applied, AttemptLocks, WriteBuffer, apply_result_buffered, find_attempt};
use crate::store::{StoreError, inbox};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

pub use crate::store::settle_page::EventApplied;
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
pub(super) struct PageCounts {
    pub report: DrainReport,
    /// Newly rejected records per vendor.
    pub rejected_records: HashMap<String, u64>,
    /// (vendor, disposition) of each applied result.
    pub results: Vec<(String, &'static str)>,
    /// How late each applied result whose call end the vendor gave reached us.
    pub lags: Vec<(String, CallbackLag)>,
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
        for (vendor, lag) in self.lags {
            if lag.clock_skew {
                metrics::counter!("campaignd_callback_clock_skew_total", "vendor" => vendor.clone()).increment(1);
            }
            metrics::histogram!("campaignd_callback_lag_seconds", "vendor" => vendor).record(lag.seconds);
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
    drain_paced(ctx, &mut Pacing::default(), &async || {}).await
}

/// [`drain`], running `between` after each page decided outside the write
/// turn and before that page is written (on SQLite; see `page_apply`):
/// what a test needs to write in that gap.
#[doc(hidden)]
pub async fn drain_with(ctx: &Ctx, between: &impl AsyncFn()) -> Result<DrainReport, StoreError> {
    drain_paced(ctx, &mut Pacing::default(), between).await
}

async fn drain_paced(ctx: &Ctx, pacing: &mut Pacing, between: &impl AsyncFn()) -> Result<DrainReport, StoreError> {
    // One `now` per pass: rows that arrive or come due during the pass wait
    // for the next one, so a pass always ends.
    let now = ctx.clock.now();
    let one_by_one = tokio::sync::Mutex::new(());
    let workers = ctx.settings.database.inbox_workers;
    if workers <= 1 || !AttemptLocks::needed(&ctx.db) {
        return drain_pages(ctx, now, pacing, between, &one_by_one).await;
    }
    // Several pages at once, each in its own transaction, kept apart as
    // between instances: a page's inbox rows are claimed `SKIP LOCKED` and
    // its attempts locked in id order (`AttemptLocks`), so a row is applied
    // by one page only and two pages cannot deadlock. A worker ends when it
    // finds no row left that another has not claimed. (`Pacing` is SQLite's.)
    let one_by_one = &one_by_one;
    let passes =
        (0..workers).map(|_| async move { drain_pages(ctx, now, &mut Pacing::default(), between, one_by_one).await });
    let mut report = DrainReport::default();
    let mut failed = None;
    for pass in futures::future::join_all(passes).await {
        match pass {
            Ok(r) => report.merge(&r),
            Err(e) => failed = Some(e),
        }
    }
    // As with one worker, a failure fails the pass (the loop logs it and
    // retries); every page applied before it is committed and counted.
    failed.map_or(Ok(report), Err)
}

/// One worker's pages of a pass at `now`, until none is left. A failed
/// page's rows are retried one by one while the worker holds `one_by_one`.
async fn drain_pages(
    ctx: &Ctx,
    now: DateTime<Utc>,
    pacing: &mut Pacing,
    between: &impl AsyncFn(),
    one_by_one: &tokio::sync::Mutex<()>,
) -> Result<DrainReport, StoreError> {
    let mut report = DrainReport::default();
    let mut campaigns: HashMap<i64, Campaign> = HashMap::new();
    loop {
        let mut page = PageCounts::default();
        match apply_page(ctx, now, None, &mut campaigns, &mut page, pacing, between).await {
            Ok(true) => report.merge(&page.emit()),
            Ok(false) => return Ok(report),
            Err(e) => {
                // One worker at a time, reading the due rows once it has the
                // turn: a row another worker just failed is backed off by
                // then, no longer due, so no row fails twice in one pass.
                let _turn = one_by_one.lock().await;
                let ids = inbox::due_ids(&ctx.db, now, PAGE).await?;
                tracing::warn!(error = %e, rows = ids.len(), "inbox page failed; retrying its rows one by one");
                campaigns.clear();
                if ids.is_empty() {
                    return Ok(report);
                }
                for id in ids {
                    let mut one = PageCounts::default();
                    match apply_page(ctx, now, Some(id), &mut campaigns, &mut one, pacing, between).await {
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

/// Rows per page (and per transaction). A page costs a fixed number of
/// statements and one commit whatever its size, so a larger page spreads
/// them over more results; its rows and their attempts and contacts are held
/// in memory, and a failed page retries this many rows one by one.
pub(super) const PAGE: u64 = 500;

/// A row that failed to apply is tried again after a backoff, not in this
/// pass again (and not in a tight loop on every pass after).
async fn back_off_failed(ctx: &Ctx, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(received_at) = inbox::received_at(&ctx.db, id).await? else { return Ok(()) };
    inbox::retry_at(&ctx.db, id, now + inbox_wait::backoff(received_at, now)).await
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
    let mut gauges = InboxGauges::default();
    let mut pacing = Pacing::default();
    loop {
        let drained = drain_paced(&ctx, &mut pacing, &async || {}).await;
        gauges.sample_if_due(&ctx).await;
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

//! The rows of an inbox page: how each is read, what becomes of it (a copy,
//! rejected, or its events applied), and how it is counted and marked once
//! its events were applied.

use super::processor::{EventApplied, PageCounts};
use crate::context::Ctx;
use crate::domain::call_event::CallEvent;
use crate::domain::callback_lag::callback_lag;
use crate::domain::inbox_page::CopyState;
use crate::domain::inbox_wait::{self, Wait};
use crate::domain::state::InboxState;
use crate::store::ConnectionTrait;
use crate::store::apply::WriteBuffer;
use crate::store::inbox_page::{RowMark, RowWait};
use crate::store::{StoreError, inbox};
use crate::vendors::ParsedCallback;
use chrono::{DateTime, Utc};
use entity::callback_inbox;

/// What a page's rows share while they are finished: the counts, and the
/// writes made at the page's end.
pub(super) struct Page<'a> {
    pub counts: &'a mut PageCounts,
    pub dials: WriteBuffer,
    pub marks: Vec<RowMark>,
    /// Rows finished (not waiting): what they waited for is forgotten.
    pub finished: Vec<i64>,
    /// Rows that wait, kept pending (written at the page's end).
    pub waits: Vec<RowWait>,
}

/// A stored callback as its vendor's adapter reads it.
pub(super) enum Parsed {
    /// The vendor is no longer configured.
    NoVendor,
    /// The body does not read (why).
    Unreadable(String),
    Read(ParsedCallback),
}

pub(super) fn parse_row(ctx: &Ctx, row: &callback_inbox::Model) -> Parsed {
    let Some(vendor) = ctx.vendors.get(&row.vendor_id) else { return Parsed::NoVendor };
    match vendor.adapter.parse_callback(&row.body) {
        Ok(mut parsed) => {
            parsed.events = parsed.events.into_iter().map(|e| vendor.priced(e)).collect();
            Parsed::Read(parsed)
        }
        Err(e) => Parsed::Unreadable(e.to_string()),
    }
}

/// What becomes of a row, decided before its events are applied.
pub(super) enum RowPlan {
    /// A copy of another delivery (`copy`).
    Duplicate,
    /// Not applied (why).
    Rejected(String),
    /// Its events are applied; `rejected_note` says which records were not.
    Events { rejected_note: Option<String> },
}

impl RowPlan {
    /// What copies of the row see. A row with events may yet wait (stay
    /// pending) rather than be processed; its copies cannot tell the
    /// difference: a later copy is a copy of a pending row too, and an
    /// earlier pending copy would have made this row a duplicate.
    pub fn copy_state(&self) -> CopyState {
        match self {
            RowPlan::Duplicate => CopyState::Duplicate,
            RowPlan::Rejected(_) => CopyState::Rejected,
            RowPlan::Events { .. } => CopyState::Processed,
        }
    }
}

/// Decide what becomes of `row` (`copy`: a copy of a delivery taken care
/// of); its records that do not read are kept now.
pub(super) async fn plan_row<C: ConnectionTrait>(
    db: &C,
    row: &callback_inbox::Model,
    parsed: &Parsed,
    copy: bool,
    counts: &mut PageCounts,
) -> Result<RowPlan, StoreError> {
    if copy {
        return Ok(RowPlan::Duplicate);
    }
    let parsed = match parsed {
        Parsed::Read(parsed) => parsed,
        Parsed::NoVendor => return Ok(RowPlan::Rejected("vendor is no longer configured".into())),
        Parsed::Unreadable(e) => return Ok(RowPlan::Rejected(e.clone())),
    };
    // Records that could not be read are kept for audit (once, however
    // often the row is passed over) and the row says so; the good records
    // beside them apply as usual.
    let (rejected_note, newly_rejected) = inbox::record_rejects(db, row, &parsed.rejected).await?;
    if newly_rejected > 0 {
        counts.report.rejected_records += newly_rejected as usize;
        *counts.rejected_records.entry(row.vendor_id.clone()).or_default() += newly_rejected;
        for r in &parsed.rejected {
            tracing::warn!(vendor = %row.vendor_id, inbox_id = row.id, record = r.index, reason = %r.reason, "callback record rejected; kept for audit");
        }
    }
    Ok(RowPlan::Events { rejected_note })
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Row {
    Finished,
    Waiting,
}

/// Count a row's events as they were applied and mark the row (at the
/// page's end), or let it wait.
pub(super) fn finish_row<'e>(
    ctx: &Ctx,
    row: &callback_inbox::Model,
    plan: RowPlan,
    events: impl Iterator<Item = (&'e CallEvent, EventApplied)>,
    now: DateTime<Utc>,
    page: &mut Page<'_>,
) -> Row {
    let report = &mut page.counts.report;
    let mark = |state, error, events| RowMark { id: row.id, state, error, events };
    let rejected_note = match plan {
        RowPlan::Duplicate => {
            page.marks.push(mark(InboxState::Duplicate, None, 0));
            report.duplicates += 1;
            return Row::Finished;
        }
        RowPlan::Rejected(why) => {
            page.marks.push(mark(InboxState::Rejected, Some(why), 0));
            report.rejected += 1;
            return Row::Finished;
        }
        RowPlan::Events { rejected_note } => rejected_note,
    };
    let (mut applied, mut unmatched) = (0, 0);
    let mut wait_for = Vec::new();
    for (ev, outcome) in events {
        match outcome {
            EventApplied::Applied => {
                applied += 1;
                page.counts.results.push((row.vendor_id.clone(), ev.outcome.disposition.as_str()));
                if let Some(lag) = callback_lag(ev.ended_at, row.received_at) {
                    page.counts.lags.push((row.vendor_id.clone(), lag));
                }
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
            let (id, vendor_id, events) = (row.id, row.vendor_id.clone(), row.events + applied);
            page.waits.push(RowWait { id, vendor_id, until, events, keys: wait_for });
            report.waiting += 1;
            return Row::Waiting;
        }
        // One line per row would let a flood of callbacks for unknown calls
        // flood the log too: rows are named at debug, the pass sums them up.
        tracing::debug!(vendor = %row.vendor_id, inbox_id = row.id, events = unmatched, "callback for attempts we do not know");
        report.unmatched += unmatched;
    }
    page.marks.push(mark(InboxState::Processed, rejected_note, row.events + applied));
    Row::Finished
}

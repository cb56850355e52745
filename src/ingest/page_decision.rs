//! One inbox page in two steps: decide (the rows' copies, the facts their
//! events need, each event settled in page order, in memory), then write
//! what was decided with one statement per table. The processor runs both
//! in one write transaction, or on SQLite the first outside any write
//! transaction, fenced (see `processor::apply_page`).

use super::page_rows::{Page, Parsed, Row, RowPlan, finish_row, parse_row, plan_row};
use super::processor::{EventApplied, PageCounts};
use crate::context::Ctx;
use crate::domain::campaign::Campaign;
use crate::domain::inbox_page::InboxCopies;
use crate::store::ConnectionTrait;
use crate::store::apply::WriteBuffer;
use crate::store::settle_page::{PageEvent, PageSettler};
use crate::store::{StoreError, inbox, inbox_page};
use chrono::{DateTime, Utc};
use entity::callback_inbox;
use std::collections::HashMap;
use std::ops::Range;

/// A page decided and not written yet.
pub(super) struct Decided {
    rows: Vec<callback_inbox::Model>,
    parsed: Vec<Parsed>,
    /// Each row's final events: a range of the page's.
    ranges: Vec<Range<usize>>,
    settler: PageSettler,
    applied: Vec<EventApplied>,
    plans: Vec<RowPlan>,
}

/// Each row read by its vendor's adapter, once.
pub(super) fn parse_page(ctx: &Ctx, rows: &[callback_inbox::Model]) -> Vec<Parsed> {
    rows.iter().map(|row| parse_row(ctx, row)).collect()
}

/// Whether deciding these rows writes nothing: a row with records that do
/// not read keeps them (in `rejected_records`) as it is decided.
pub(super) fn decided_without_writes(parsed: &[Parsed]) -> bool {
    parsed.iter().all(|p| !matches!(p, Parsed::Read(p) if !p.rejected.is_empty()))
}

/// The page's final events, and each row's range of them.
fn page_events<'a>(rows: &'a [callback_inbox::Model], parsed: &'a [Parsed]) -> (Vec<PageEvent<'a>>, Vec<Range<usize>>) {
    let mut events = Vec::new();
    let mut ranges = Vec::with_capacity(rows.len());
    for (row, parsed) in rows.iter().zip(parsed) {
        let start = events.len();
        if let Parsed::Read(p) = parsed {
            let finals = p.events.iter().filter(|e| e.is_final);
            events.extend(finals.map(|event| PageEvent {
                vendor_id: &row.vendor_id,
                event,
                received_at: row.received_at,
            }));
        }
        ranges.push(start..events.len());
    }
    (events, ranges)
}

/// Decide the page from what `db` reads: its facts are loaded once (copies
/// of its rows, attempts, contacts), and each row is decided in page order
/// (a row sees its page's earlier rows as it would had each been written at
/// once). Only rows with rejected records write (see [`decided_without_writes`]).
pub(super) async fn decide<C: ConnectionTrait>(
    db: &C,
    ctx: &Ctx,
    rows: Vec<callback_inbox::Model>,
    parsed: Vec<Parsed>,
    now: DateTime<Utc>,
    campaigns: &mut HashMap<i64, Campaign>,
    counts: &mut PageCounts,
) -> Result<Decided, StoreError> {
    let (events, ranges) = page_events(&rows, &parsed);
    let outside = inbox_page::copies_outside(db, &rows).await?;
    let mut copies = InboxCopies::new(rows.iter().map(|r| (r.id, r.vendor_id.as_str(), r.dedupe_key.as_str())));
    let mut settler = PageSettler::load(db, &ctx.settings.compliance, &events, campaigns).await?;
    let mut applied = vec![EventApplied::Unmatched; events.len()];
    let mut plans = Vec::with_capacity(rows.len());
    for ((row, parsed), range) in rows.iter().zip(&parsed).zip(&ranges) {
        let copy = outside.contains(&row.id) || copies.copy_in_page(row.id, &row.vendor_id, &row.dedupe_key);
        let plan = plan_row(db, row, parsed, copy, counts).await?;
        if let RowPlan::Events { .. } = plan {
            for i in range.clone() {
                applied[i] = settler.settle(i, &events[i], campaigns, now)?;
            }
        }
        copies.decided(row.id, &row.vendor_id, &row.dedupe_key, plan.copy_state());
        plans.push(plan);
    }
    drop(events);
    Ok(Decided { rows, parsed, ranges, settler, applied, plans })
}

/// Write what was decided, with one statement per table (the caller's
/// write transaction; commit it after). True when it wrote events for the
/// forwarding worker (wake it once committed).
pub(super) async fn write<C: ConnectionTrait>(
    txn: &C,
    ctx: &Ctx,
    decided: Decided,
    now: DateTime<Utc>,
    counts: &mut PageCounts,
) -> Result<bool, StoreError> {
    let Decided { rows, parsed, ranges, settler, mut applied, plans } = decided;
    let (events, _) = page_events(&rows, &parsed);
    let mut page =
        Page { counts, dials: WriteBuffer::default(), marks: Vec::new(), finished: Vec::new(), waits: Vec::new() };
    for i in settler.write(txn, now, &mut page.dials).await? {
        applied[i] = EventApplied::Late;
    }
    for ((row, plan), range) in rows.iter().zip(plans).zip(ranges) {
        let row_events = range.map(|i| (events[i].event, applied[i]));
        if finish_row(ctx, row, plan, row_events, now, &mut page) == Row::Finished {
            page.finished.push(row.id);
        }
        page.counts.report.rows += 1;
    }
    inbox_page::mark_all(txn, &page.marks, now).await?;
    inbox_page::wait_all(txn, &page.waits).await?;
    page.dials.flush(txn).await?;
    inbox::forget_waits(txn, &page.finished).await?;
    Ok(page.dials.wrote_forwards())
}

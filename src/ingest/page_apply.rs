//! How the processor applies one page of the inbox: on SQLite decided
//! outside the write turn and written under it, fenced; otherwise (and
//! when the fence moved) decided and written in one write transaction.

use super::page_decision;
use super::processor::{PAGE, PageCounts};
use crate::context::Ctx;
use crate::domain::campaign::Campaign;
use crate::store::db::{WriteFence, Writer, begin_read, begin_write};
use crate::store::{StoreError, Txn, inbox};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Whether the next page is decided outside the write turn (SQLite): only
/// while callbacks are arriving (the inbox writer took a turn since this
/// processor's last page began) and no other writer moved the
/// [`WriteFence`] since that page was committed.
///
/// - Under a steady stream of other writes (dispatch answers, results by
///   poll) a page decided outside would nearly always be decided again
///   under the turn, its reads wasted: those pages are decided under the
///   turn from the start, until a quiet spell.
/// - With no callback arriving (a backlog drained on its own) deciding
///   outside lets no one through and costs a second transaction, whose
///   connection reads the pages the write then reads again: 9.2k → 7.8k
///   results/s in the bench's drain. Those pages are decided under the
///   turn; a burst that starts meanwhile waits for one page.
///
/// A first page (a fresh `Pacing`), with nothing to go by, is decided outside.
#[derive(Default)]
pub(super) struct Pacing {
    /// The fence as it stood when this processor's last page began.
    last_page_began: Option<WriteFence>,
    /// The fence as it stood when this processor's last page was committed.
    after_last_page: Option<WriteFence>,
}

impl Pacing {
    fn outside(&self) -> bool {
        match (&self.last_page_began, &self.after_last_page) {
            (Some(began), Some(after)) => began.inbox_inserted() && after.unmoved(),
            _ => true,
        }
    }
}

/// Apply the next page of rows due at `now` (only row `only`, if given) in
/// one write transaction; false when there was none. The page costs a
/// bounded number of statements whatever its size (see [`page_decision`]).
///
/// On SQLite a page is read and decided outside any write transaction (in
/// a read snapshot), so the process's one write turn is held only for its
/// writes: the inbox writer, whose callbacks' 2xx wait for their commit,
/// no longer waits behind a whole page's reads and decisions. A
/// [`WriteFence`] guards it: if any other write transaction ended since the
/// reads began (new inbox rows do not count: a new pending row changes no
/// decision on older ones), the page is decided again under the turn, as
/// it always is on PostgreSQL, where rows are locked by the transaction
/// that applies them. While other writers keep moving the fence, or while
/// no callback arrives, pages are decided under the turn from the start
/// ([`Pacing`]). `between` runs
/// between the two steps (a test's hook).
pub(super) async fn apply_page(
    ctx: &Ctx,
    now: DateTime<Utc>,
    only: Option<i64>,
    campaigns: &mut HashMap<i64, Campaign>,
    counts: &mut PageCounts,
    pacing: &mut Pacing,
    between: &impl AsyncFn(),
) -> Result<bool, StoreError> {
    let began = WriteFence::observe(&ctx.db);
    let applied = apply_page_once(ctx, now, only, campaigns, counts, pacing, between).await;
    if let Ok(true) = applied {
        pacing.last_page_began = began;
        pacing.after_last_page = WriteFence::observe(&ctx.db);
    }
    applied
}

/// [`apply_page`], without remembering the fence after it.
async fn apply_page_once(
    ctx: &Ctx,
    now: DateTime<Utc>,
    only: Option<i64>,
    campaigns: &mut HashMap<i64, Campaign>,
    counts: &mut PageCounts,
    pacing: &Pacing,
    between: &impl AsyncFn(),
) -> Result<bool, StoreError> {
    let fence = if only.is_none() && pacing.outside() { WriteFence::observe(&ctx.db) } else { None };
    let Some(fence) = fence else {
        return decide_and_write(ctx, begin_write(&ctx.db, Writer::Processing).await?, now, only, campaigns, counts)
            .await;
    };
    let read = begin_read(&ctx.db).await?;
    let rows = inbox::claim_due(&read, now, None, PAGE).await?;
    if rows.is_empty() {
        read.commit().await?;
        return Ok(false);
    }
    let parsed = page_decision::parse_page(ctx, &rows);
    if !page_decision::decided_without_writes(&parsed) {
        read.commit().await?;
        return decide_and_write(ctx, begin_write(&ctx.db, Writer::Processing).await?, now, only, campaigns, counts)
            .await;
    }
    let mut tried = PageCounts::default();
    let decided = page_decision::decide(&read, ctx, rows, parsed, now, campaigns, &mut tried).await?;
    read.commit().await?;
    between().await;
    let txn = begin_write(&ctx.db, Writer::Processing).await?;
    if !fence.unmoved() {
        metrics::counter!("campaignd_inbox_pages_decided_again_total").increment(1);
        return decide_and_write(ctx, txn, now, only, campaigns, counts).await;
    }
    let forwards = page_decision::write(&txn, ctx, decided, now, &mut tried).await?;
    txn.commit().await?;
    *counts = tried;
    if forwards {
        ctx.forward_notify.notify_one();
    }
    Ok(true)
}

/// Claim, decide and write the next page inside `txn`, the page's one
/// write transaction; false when there was none.
async fn decide_and_write(
    ctx: &Ctx,
    txn: Txn,
    now: DateTime<Utc>,
    only: Option<i64>,
    campaigns: &mut HashMap<i64, Campaign>,
    counts: &mut PageCounts,
) -> Result<bool, StoreError> {
    let rows = inbox::claim_due(&txn, now, only, PAGE).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(false);
    }
    let parsed = page_decision::parse_page(ctx, &rows);
    let decided = page_decision::decide(&txn, ctx, rows, parsed, now, campaigns, counts).await?;
    let forwards = page_decision::write(&txn, ctx, decided, now, counts).await?;
    txn.commit().await?;
    if forwards {
        ctx.forward_notify.notify_one();
    }
    Ok(true)
}

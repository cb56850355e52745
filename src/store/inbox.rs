//! The callback inbox: every delivery stored as received, before the 2xx.

use super::StoreError;
use crate::domain::state::InboxState;
use chrono::{DateTime, Utc};
use entity::{callback_inbox, inbox_wait, rejected_record};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct NewCallback {
    pub vendor_id: String,
    pub remote_addr: Option<String>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
    /// `pending` for a verified, parseable body; `rejected` otherwise.
    pub state: InboxState,
    pub error: Option<String>,
    pub received_at: DateTime<Utc>,
}

pub fn dedupe_key(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Durably store deliveries (the caller's transaction), through the same
/// fixed-shape statements as the inbox writer.
pub async fn insert_many<C: ConnectionTrait>(db: &C, cbs: Vec<NewCallback>) -> Result<(), StoreError> {
    super::inbox_writer::insert_rows(db, cbs.into_iter().map(super::inbox_writer::Row::new).collect()).await
}

/// The next pending rows due at `now` (or row `only`, if due), oldest
/// first, locked to this transaction; rows another instance is processing
/// are skipped, not waited for (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
/// SQLite's write transaction is exclusive anyway). A range scan on
/// `ix_inbox_state_retry`: rows waiting for a later time are never read, so
/// they cannot fill a page and hold back newer rows.
pub async fn claim_due<C: ConnectionTrait>(
    txn: &C,
    now: DateTime<Utc>,
    only: Option<i64>,
    limit: u64,
) -> Result<Vec<callback_inbox::Model>, StoreError> {
    let mut q = due(now);
    if let Some(id) = only {
        q = q.filter(callback_inbox::Column::Id.eq(id));
    }
    Ok(q.limit(limit).lock_with_behavior(LockType::Update, LockBehavior::SkipLocked).all(txn).await?)
}

/// The ids of the next pending rows due at `now`, unlocked (to retry a
/// failed page row by row).
pub async fn due_ids<C: ConnectionTrait>(db: &C, now: DateTime<Utc>, limit: u64) -> Result<Vec<i64>, StoreError> {
    Ok(due(now).select_only().column(callback_inbox::Column::Id).limit(limit).into_tuple().all(db).await?)
}

fn due(now: DateTime<Utc>) -> sea_orm::Select<callback_inbox::Entity> {
    callback_inbox::Entity::find()
        .filter(callback_inbox::Column::State.eq(InboxState::Pending.as_str()))
        .filter(callback_inbox::Column::RetryAt.lte(now))
        .order_by_asc(callback_inbox::Column::RetryAt)
        .order_by_asc(callback_inbox::Column::Id)
}

/// Leave a pending row alone until `until` (a row that waits, or one whose
/// processing failed and backs off).
pub async fn retry_at<C: ConnectionTrait>(db: &C, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
    callback_inbox::Entity::update_many()
        .col_expr(callback_inbox::Column::RetryAt, Expr::value(until))
        .filter(callback_inbox::Column::Id.eq(id))
        .filter(callback_inbox::Column::State.eq(InboxState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// When row `id` was received; None when it is gone.
pub async fn received_at<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(callback_inbox::Entity::find_by_id(id).one(db).await?.map(|r| r.received_at))
}

/// The wait key of a vendor task id (recorded from the dispatch answer).
pub fn wait_key_task(vendor_task_id: &str) -> String {
    format!("task:{vendor_task_id}")
}

/// The wait key of a vendor call id.
pub fn wait_key_call(external_call_id: &str) -> String {
    format!("call:{external_call_id}")
}

/// `keys` of `vendor_id` were just recorded: the rows waiting for one of
/// them become due at `now`. Returns how many. An index lookup on
/// `ix_inbox_waits_vendor_key`: rows waiting for other keys of the same
/// vendor (a flood of callbacks for calls we never made) are not touched.
///
/// Rows a drain holds right now are skipped, not waited for (the caller
/// holds attempt locks the drain may be waiting on); a drain that missed the
/// key looks again after the row's backoff.
pub async fn wake<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut ids: Vec<i64> = Vec::new();
    for chunk in keys.chunks(500) {
        let found: Vec<i64> = inbox_wait::Entity::find()
            .select_only()
            .column(inbox_wait::Column::InboxId)
            .filter(inbox_wait::Column::VendorId.eq(vendor_id))
            .filter(inbox_wait::Column::WaitKey.is_in(chunk.iter().map(String::as_str)))
            .into_tuple()
            .all(db)
            .await?;
        ids.extend(found);
    }
    ids.sort_unstable();
    ids.dedup();
    let mut woken = 0;
    for chunk in ids.chunks(500) {
        let free: Vec<i64> = callback_inbox::Entity::find()
            .select_only()
            .column(callback_inbox::Column::Id)
            .filter(callback_inbox::Column::Id.is_in(chunk.iter().copied()))
            .filter(callback_inbox::Column::State.eq(InboxState::Pending.as_str()))
            .filter(callback_inbox::Column::RetryAt.gt(now))
            .order_by_asc(callback_inbox::Column::Id)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .into_tuple()
            .all(db)
            .await?;
        if free.is_empty() {
            continue;
        }
        woken += callback_inbox::Entity::update_many()
            .col_expr(callback_inbox::Column::RetryAt, Expr::value(now))
            .filter(callback_inbox::Column::Id.is_in(free))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok(woken)
}

/// A vendor's answer to a dispatch was recorded (its task id and the call
/// ids it gave): wake the callbacks that came before it ([`wake`]).
pub async fn wake_for_dispatch<'a, C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    vendor_task_id: &str,
    call_ids: impl Iterator<Item = &'a str>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let keys: Vec<String> = std::iter::once(wait_key_task(vendor_task_id)).chain(call_ids.map(wait_key_call)).collect();
    wake(db, vendor_id, &keys, now).await
}

/// Forget what finished rows waited for (one statement per page).
pub async fn forget_waits<C: ConnectionTrait>(db: &C, inbox_ids: &[i64]) -> Result<(), StoreError> {
    for chunk in inbox_ids.chunks(500) {
        inbox_wait::Entity::delete_many()
            .filter(inbox_wait::Column::InboxId.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Keep the records of `row` that could not be read (once: a row passed
/// over again while it waits finds them stored). Returns the note its
/// `error` column gets (how many, and the first reasons) and how many were
/// stored now for the first time.
pub async fn record_rejects<C: ConnectionTrait>(
    db: &C,
    row: &callback_inbox::Model,
    rejected: &[crate::domain::call_event::RejectedRecord],
) -> Result<(Option<String>, u64), StoreError> {
    if rejected.is_empty() {
        return Ok((None, 0));
    }
    let keyed = rejected.iter().map(|r| (format!("inbox:{}:{}", row.id, r.index), r));
    let stored = store_rejects(db, &row.vendor_id, Some(row.id), keyed, row.received_at).await?;
    let first: Vec<String> = rejected.iter().take(3).map(|r| format!("record {}: {}", r.index, r.reason)).collect();
    let more = if rejected.len() > 3 { format!("; and {} more", rejected.len() - 3) } else { String::new() };
    let note = format!("{} record(s) rejected, kept in rejected_records: {}{more}", rejected.len(), first.join("; "));
    Ok((Some(note), stored))
}

/// Keep the records of a poll answer that could not be read; a record the
/// vendor returns on every poll is kept once. Returns how many were new.
pub async fn record_poll_rejects<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    rejected: &[crate::domain::call_event::RejectedRecord],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let keyed = rejected.iter().map(|r| {
        let digest = Sha256::digest(format!("{vendor_id}\n{}", r.raw).as_bytes());
        (format!("poll:{}", hex::encode(digest)), r)
    });
    store_rejects(db, vendor_id, None, keyed, now).await
}

/// Cut at this many characters: a record is evidence, not a second inbox.
const RAW_KEPT: usize = 4000;

async fn store_rejects<'a, C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    inbox_id: Option<i64>,
    keyed: impl Iterator<Item = (String, &'a crate::domain::call_event::RejectedRecord)>,
    received_at: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let rows: Vec<_> = keyed
        .map(|(key, r)| rejected_record::ActiveModel {
            inbox_id: Set(inbox_id),
            source: Set(if inbox_id.is_some() { "callback" } else { "poll" }.to_string()),
            record_key: Set(key),
            vendor_id: Set(vendor_id.to_string()),
            record_index: Set(i32::try_from(r.index).unwrap_or(i32::MAX)),
            phone: Set(r.phone.clone()),
            reason: Set(r.reason.clone()),
            raw: Set(r.raw.chars().take(RAW_KEPT).collect()),
            received_at: Set(received_at),
            ..Default::default()
        })
        .collect();
    let kept = OnConflict::column(rejected_record::Column::RecordKey).do_nothing().to_owned();
    Ok(super::raw_sql::insert_many(db, rows, Some(kept)).await?)
}

/// The rejected records naming `phone`, newest first (for `explain`).
pub async fn rejects_for_phone<C: ConnectionTrait>(
    db: &C,
    phone: &str,
) -> Result<Vec<rejected_record::Model>, StoreError> {
    Ok(rejected_record::Entity::find()
        .filter(rejected_record::Column::Phone.eq(phone))
        .order_by_desc(rejected_record::Column::Id)
        .limit(50)
        .all(db)
        .await?)
}

/// Finish processing a row, fenced on it still being pending.
pub async fn mark<C: ConnectionTrait>(
    db: &C,
    id: i64,
    state: InboxState,
    error: Option<String>,
    events: i32,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = callback_inbox::Entity::update_many()
        .col_expr(callback_inbox::Column::State, Expr::value(state.as_str()))
        .col_expr(callback_inbox::Column::Error, Expr::value(error))
        .col_expr(callback_inbox::Column::Events, Expr::value(events))
        .col_expr(callback_inbox::Column::ProcessedAt, Expr::value(now))
        .filter(callback_inbox::Column::Id.eq(id))
        .filter(callback_inbox::Column::State.eq(InboxState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

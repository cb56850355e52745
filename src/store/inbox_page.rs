//! The inbox reads and writes of a whole page: which of its rows have a copy
//! outside the page, and the rows' marks, one statement each.

use super::StoreError;
use super::raw_sql::{Sql, padded, padded_chunks};
use crate::domain::state::InboxState;
use chrono::{DateTime, Utc};
use entity::callback_inbox;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::HashSet;

/// The page's rows that are copies of a delivery outside the page: another
/// row with the same vendor and body that was processed, or that arrived
/// earlier (lower id) and is pending or itself a copy (a later copy is only
/// ever marked duplicate of an earlier one, so two copies can never each
/// call the other the original), for every row at once, leaving out the
/// page's own rows (`domain::inbox_page::InboxCopies` decides between those
/// as the page goes). One probe per row on `ix_inbox_vendor_dedupe` that
/// stops at the first match, however many copies a vendor sent.
pub async fn copies_outside<C: ConnectionTrait>(
    db: &C,
    rows: &[callback_inbox::Model],
) -> Result<HashSet<i64>, StoreError> {
    let keys: Vec<(i64, &str, &str)> =
        rows.iter().map(|r| (r.id, r.vendor_id.as_str(), r.dedupe_key.as_str())).collect();
    let mut copies = HashSet::new();
    // The whole page in one statement: its rows are left out as a whole.
    if !keys.is_empty() {
        for row in db.query_all_raw(copies_statement(db.get_database_backend(), &keys)).await? {
            copies.insert(row.try_get_by_index::<i64>(0)?);
        }
    }
    Ok(copies)
}

/// The statement of [`copies_outside`] for the page's `(id, vendor, dedupe
/// key)`s (at least one): the ids of those with a copy outside the page.
pub fn copies_statement(backend: DbBackend, keys: &[(i64, &str, &str)]) -> Statement {
    let chunk = padded(keys);
    let mut sql = Sql::new(backend);
    sql.push("WITH page(inbox_id, vendor_id, dedupe_key) AS (VALUES ");
    sql.rows(&chunk, |s, (id, vendor, key)| {
        s.bind_as(*id, "BIGINT").push(", ").bind_as(*vendor, "TEXT").push(", ").bind_as(*key, "TEXT");
    });
    // A scalar subquery with LIMIT 1, not `WHERE EXISTS`: PostgreSQL turns
    // an EXISTS into a hash semi-join that reads the whole inbox (processed
    // rows too) on every page, ~110 ms at 50,000 rows and growing with the
    // table; a scalar subquery stays one index probe per page row on both
    // backends. `NOT IN` looks the page's ids up in one hashed list (a
    // correlated NOT EXISTS scanned the page again for every candidate).
    sql.push(
        ") SELECT inbox_id FROM (SELECT p.inbox_id, (SELECT c.id FROM callback_inbox c \
         WHERE c.vendor_id = p.vendor_id AND c.dedupe_key = p.dedupe_key AND (c.state = ",
    );
    sql.bind(InboxState::Processed.as_str()).push(" OR (c.id < p.inbox_id AND c.state IN (");
    sql.bind(InboxState::Pending.as_str()).push(", ").bind(InboxState::Duplicate.as_str());
    sql.push(
        "))) AND c.id NOT IN (SELECT q.inbox_id FROM page q) LIMIT 1) AS copy_of FROM page p) found \
         WHERE copy_of IS NOT NULL",
    );
    sql.build()
}

/// How a row of the page is finished.
#[derive(Debug, Clone)]
pub struct RowMark {
    pub id: i64,
    pub state: InboxState,
    pub error: Option<String>,
    /// Events applied from it, in all.
    pub events: i32,
}

/// Finish processing the rows, each fenced on it still being pending.
pub async fn mark_all<C: ConnectionTrait>(db: &C, marks: &[RowMark], now: DateTime<Utc>) -> Result<(), StoreError> {
    for chunk in padded_chunks(marks) {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push("WITH v(inbox_id, new_state, new_error, new_events) AS (VALUES ");
        sql.rows(&chunk, |s, m| {
            s.bind_as(m.id, "BIGINT").push(", ").bind_as(m.state.as_str(), "TEXT").push(", ");
            s.bind_as(m.error.clone(), "TEXT").push(", ").bind_as(m.events, "INTEGER");
        });
        sql.push(") ").update().push(
            " callback_inbox SET state = v.new_state, error = v.new_error, events = v.new_events, processed_at = ",
        );
        sql.bind(now).push(" FROM v WHERE callback_inbox.id = v.inbox_id AND callback_inbox.state = ");
        sql.bind(InboxState::Pending.as_str());
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// A row that waits: kept pending until `until`, or until one of `keys`
/// (see [`super::inbox::wait_key_task`], [`super::inbox::wait_key_call`])
/// is recorded for its vendor.
#[derive(Debug, Clone)]
pub struct RowWait {
    pub id: i64,
    pub vendor_id: String,
    pub until: DateTime<Utc>,
    /// Events applied from it, in all (what did match is applied now and
    /// found finished, late, when the row is looked at again).
    pub events: i32,
    pub keys: Vec<String>,
}

/// Keep the rows pending until their time, counting the events applied
/// from them, and record what each waits for: one statement for the rows
/// and one for their keys (per chunk), each fenced or idempotent, so a
/// padded chunk's repeated last row changes nothing.
pub async fn wait_all<C: ConnectionTrait>(db: &C, waits: &[RowWait]) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    for chunk in padded_chunks(waits) {
        let mut sql = Sql::new(backend);
        sql.push("WITH v(inbox_id, new_retry, new_events) AS (VALUES ");
        sql.rows(&chunk, |s, w| {
            s.bind_as(w.id, "BIGINT").push(", ").bind_as(w.until, "TIMESTAMPTZ").push(", ");
            s.bind_as(w.events, "INTEGER");
        });
        sql.push(") ").update().push(
            " callback_inbox SET retry_at = v.new_retry, events = v.new_events \
             FROM v WHERE callback_inbox.id = v.inbox_id AND callback_inbox.state = ",
        );
        sql.bind(InboxState::Pending.as_str());
        db.execute_raw(sql.build()).await?;
    }
    let keys: Vec<(i64, &str, &str)> =
        waits.iter().flat_map(|w| w.keys.iter().map(move |k| (w.id, k.as_str(), w.vendor_id.as_str()))).collect();
    for chunk in padded_chunks(&keys) {
        let mut sql = Sql::new(backend);
        sql.insert_into().push(" inbox_waits (inbox_id, wait_key, vendor_id) VALUES ");
        sql.rows(&chunk, |s, (id, key, vendor)| {
            s.bind(*id).push(", ").bind(*key).push(", ").bind(*vendor);
        });
        sql.push(" ON CONFLICT (inbox_id, wait_key) DO NOTHING");
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

//! The writes of settled results, one statement per table for a whole page
//! (or for one result: the same statements with one row): attempts finished,
//! contacts moved, numbers suppressed. Each keeps the fence of its per-row
//! form, so a duplicate or late result still changes nothing.

use super::raw_sql::{Sql, padded_chunks};
use super::{IN_FLIGHT_STATES, StoreError};
use crate::domain::settlement::{AttemptUpdate, ContactUpdate, SuppressionEntry};
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use entity::suppression;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, Set, Value};
use std::collections::HashSet;

/// Finish these attempts, each fenced on "still in flight", not on the state
/// we read: the dispatcher may have moved one from dispatching to dispatched
/// meanwhile, and the result is just as valid then. Only a finished attempt
/// is left alone. Returns the ids that were finished now (an attempt missing
/// from it was already finished: its result is late).
pub async fn finish_attempts<C: ConnectionTrait>(
    db: &C,
    updates: &[(i64, &AttemptUpdate)],
    now: DateTime<Utc>,
) -> Result<HashSet<i64>, StoreError> {
    let mut finished = HashSet::with_capacity(updates.len());
    for chunk in padded_chunks(updates) {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push(
            "WITH v(attempt_id, new_state, has_outcome, new_disposition, new_intent, new_raw_code, \
             new_raw_intent, new_error, new_duration_ms, new_call_id, new_recording_url, new_transcript, \
             new_ring_ms, new_vendor_ended_at, new_received_at, new_cost_micros, new_cost_currency) AS (VALUES ",
        );
        sql.rows(&chunk, |s, (id, a)| {
            let o = a.outcome.as_ref();
            s.bind_as(*id, "BIGINT").push(", ");
            s.bind_as(a.state.as_str(), "TEXT").push(", ");
            s.bind_as(i32::from(o.is_some()), "INTEGER").push(", ");
            s.bind_as(o.map(|o| o.disposition.as_str()), "TEXT").push(", ");
            s.bind_as(o.and_then(|o| o.intent.map(|i| i.as_str())), "TEXT").push(", ");
            s.bind_as(o.and_then(|o| o.raw_code.clone()), "TEXT").push(", ");
            s.bind_as(o.and_then(|o| o.raw_intent.clone()), "TEXT").push(", ");
            s.bind_as(a.error.clone(), "TEXT").push(", ");
            s.bind_as(a.duration_ms, "BIGINT").push(", ");
            s.bind_as(a.external_call_id.clone(), "TEXT").push(", ");
            let d = &a.details;
            s.bind_as(d.recording_url.clone(), "TEXT").push(", ");
            s.bind_as(d.transcript.clone(), "TEXT").push(", ");
            s.bind_as(d.ring_ms, "BIGINT").push(", ");
            s.bind_as(d.vendor_ended_at, "TIMESTAMPTZ").push(", ");
            s.bind_as(d.received_at, "TIMESTAMPTZ").push(", ");
            s.bind_as(d.cost.as_ref().map(|c| c.micros), "BIGINT").push(", ");
            s.bind_as(d.cost.as_ref().map(|c| c.currency.clone()), "TEXT");
        });
        // Without an outcome (a failure, a lost call) the outcome columns
        // are left as they are; duration, call id and the call details only
        // when known (cost and its currency together).
        sql.push(") ").update().push(
            " attempts SET state = v.new_state, error = v.new_error, \
             disposition = CASE WHEN v.has_outcome = 1 THEN v.new_disposition ELSE attempts.disposition END, \
             intent = CASE WHEN v.has_outcome = 1 THEN v.new_intent ELSE attempts.intent END, \
             raw_code = CASE WHEN v.has_outcome = 1 THEN v.new_raw_code ELSE attempts.raw_code END, \
             raw_intent = CASE WHEN v.has_outcome = 1 THEN v.new_raw_intent ELSE attempts.raw_intent END, \
             duration_ms = COALESCE(v.new_duration_ms, attempts.duration_ms), \
             external_call_id = COALESCE(v.new_call_id, attempts.external_call_id), \
             recording_url = COALESCE(v.new_recording_url, attempts.recording_url), \
             transcript = COALESCE(v.new_transcript, attempts.transcript), \
             ring_ms = COALESCE(v.new_ring_ms, attempts.ring_ms), \
             vendor_ended_at = COALESCE(v.new_vendor_ended_at, attempts.vendor_ended_at), \
             received_at = COALESCE(v.new_received_at, attempts.received_at), \
             cost_currency = CASE WHEN v.new_cost_micros IS NULL THEN attempts.cost_currency ELSE v.new_cost_currency END, \
             cost_micros = COALESCE(v.new_cost_micros, attempts.cost_micros), \
             completed_at = ",
        );
        sql.bind(now).push(", updated_at = ").bind(now);
        sql.push(" FROM v WHERE attempts.id = v.attempt_id AND attempts.state IN ");
        sql.bind_list(&IN_FLIGHT_STATES).push(" RETURNING id");
        for row in db.query_all_raw(sql.build()).await? {
            finished.insert(row.try_get_by_index::<i64>(0)?);
        }
    }
    Ok(finished)
}

/// A contact's move after its attempt's result.
#[derive(Debug, Clone)]
pub struct ContactMove {
    pub contact_id: i64,
    /// The attempt whose result moves it: the contact moves only while this
    /// is its current attempt and it is in flight.
    pub attempt_no: i32,
    pub update: ContactUpdate,
}

/// Move the contacts; each fenced on "in flight with this attempt".
pub async fn move_contacts<C: ConnectionTrait>(
    db: &C,
    moves: &[ContactMove],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut histories = Vec::with_capacity(moves.len());
    for m in moves {
        histories.push(serde_json::to_value(&m.update.history).map_err(|e| StoreError::Corrupt {
            table: "contacts",
            id: m.contact_id,
            message: format!("recall_history does not serialize: {e}"),
        })?);
    }
    let rows: Vec<(&ContactMove, &serde_json::Value)> = moves.iter().zip(&histories).collect();
    for chunk in padded_chunks(&rows) {
        let mut sql = Sql::new(db.get_database_backend());
        sql.push(
            "WITH v(contact_id, attempt_no, new_state, new_due_at, new_history, new_reason, vendor_failed, \
             has_outcome, new_disposition, new_intent, new_raw_code) AS (VALUES ",
        );
        sql.rows(&chunk, |s, (m, history)| {
            let (u, o) = (&m.update, m.update.last_outcome.as_ref());
            s.bind_as(m.contact_id, "BIGINT").push(", ");
            s.bind_as(m.attempt_no, "INTEGER").push(", ");
            s.bind_as(u.state.as_str(), "TEXT").push(", ");
            s.bind_as(u.due_at, "TIMESTAMPTZ").push(", ");
            s.bind_as(Value::Json(Some(Box::new((*history).clone()))), "JSONB").push(", ");
            s.bind_as(u.finished_reason.clone(), "TEXT").push(", ");
            s.bind_as(u.vendor_failed, "BOOLEAN").push(", ");
            s.bind_as(i32::from(o.is_some()), "INTEGER").push(", ");
            s.bind_as(o.map(|o| o.disposition.as_str()), "TEXT").push(", ");
            s.bind_as(o.and_then(|o| o.intent.map(|i| i.as_str())), "TEXT").push(", ");
            s.bind_as(o.and_then(|o| o.raw_code.clone()), "TEXT");
        });
        sql.push(") ").update().push(
            " contacts SET last_vendor_failed = v.vendor_failed, state = v.new_state, \
             due_at = v.new_due_at, recall_history = v.new_history, finished_reason = v.new_reason, \
             last_disposition = CASE WHEN v.has_outcome = 1 THEN v.new_disposition ELSE contacts.last_disposition END, \
             last_intent = CASE WHEN v.has_outcome = 1 THEN v.new_intent ELSE contacts.last_intent END, \
             last_raw_code = CASE WHEN v.has_outcome = 1 THEN v.new_raw_code ELSE contacts.last_raw_code END, \
             updated_at = ",
        );
        sql.bind(now).push(" FROM v WHERE contacts.id = v.contact_id AND contacts.attempt_seq = v.attempt_no");
        sql.push(" AND contacts.state = ").bind(ContactState::InFlight.as_str());
        db.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// Put numbers on the suppression list (an existing entry is kept; of two
/// entries for one number, the first).
pub async fn suppress_all<C: ConnectionTrait>(
    db: &C,
    entries: &[SuppressionEntry],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for chunk in entries.chunks(500) {
        let rows = chunk.iter().map(|entry| suppression::ActiveModel {
            phone: Set(entry.phone.clone()),
            reason: Set(entry.reason.clone()),
            source: Set(entry.source.clone()),
            created_at: Set(now),
            expires_at: Set(None),
            ..Default::default()
        });
        let suppressed = OnConflict::column(suppression::Column::Phone).do_nothing().to_owned();
        super::raw_sql::insert_many(db, rows.collect(), Some(suppressed)).await?;
    }
    Ok(())
}

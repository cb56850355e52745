//! Writing a claim's verdicts: one multi-row statement per kind of change
//! (contacts put in flight, deferred, finished; attempts inserted; their
//! decisions), so a batch costs the same few statements whatever its size.
//! Only a row that does not read (parked) is written on its own.

use super::StoreError;
use super::claim::Lease;
use super::json_rows::{self, Col};
use super::raw_sql::Sql;
use super::values_list;
use crate::domain::state::{AttemptState, ContactState};
use chrono::{DateTime, Utc};
use entity::contact;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter};

/// A claimed contact's new attempt: `dispatching` until the vendor answers.
pub(super) struct NewAttempt {
    pub contact_id: i64,
    pub attempt_no: i32,
    pub vendor_id: String,
    pub attempt_ref: String,
    pub phone: String,
    pub case_id: Option<String>,
    pub max_dials: u32,
}

/// The audit row of a claim's decision about one contact.
pub(super) struct ContactDecision {
    pub contact_id: i64,
    pub phone: String,
    pub attempt_no: Option<i32>,
    pub kind: &'static str,
    pub reason: String,
    pub next_at: Option<DateTime<Utc>>,
}

/// What one claim round dispatches, and every decision it took.
pub(super) struct RoundWrites<'a> {
    pub campaign_id: i64,
    pub attempts: Vec<NewAttempt>,
    pub decisions: Vec<ContactDecision>,
    pub lease: &'a Lease<'a>,
}

/// The new attempts inserted, their contacts put in flight (each
/// remembering the vendor of this attempt for its redial strategy), and the
/// round's decisions recorded: on PostgreSQL one statement (one round trip,
/// data-modifying CTEs), on SQLite one statement per table; each carries
/// its rows as one JSON parameter, so the text is the same for any batch.
pub(super) async fn write_round<C: ConnectionTrait>(
    txn: &C,
    round: RoundWrites<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let attempts = (!round.attempts.is_empty()).then(|| json_rows::encode(&attempt_rows(&round.attempts)));
    let decisions = (!round.decisions.is_empty()).then(|| json_rows::encode(&decision_rows(&round.decisions)));
    if backend == DbBackend::Postgres {
        let mut sql = Sql::new(backend);
        sql.push("WITH ");
        let mut parts = 0;
        if let Some(rows) = attempts {
            sql.push("r AS ").json_table(&ATTEMPT_COLS, rows).push(", a AS (");
            insert_attempts_from(&mut sql, &round, "r", now);
            sql.push("), c AS (");
            in_flight_from(&mut sql, "r", now);
            sql.push(")");
            parts += 1;
        }
        if let Some(rows) = decisions {
            if parts > 0 {
                sql.push(", ");
            }
            sql.push("d AS (");
            insert_decisions(&mut sql, round.campaign_id, rows, now);
            sql.push(")");
            parts += 1;
        }
        if parts > 0 {
            sql.push(" SELECT 1");
            txn.execute_raw(sql.build()).await?;
        }
        return Ok(());
    }
    if let Some(rows) = attempts {
        let mut sql = Sql::new(backend);
        sql.push("WITH r AS ").json_table(&ATTEMPT_COLS, rows.clone()).push(" ");
        insert_attempts_from(&mut sql, &round, "r", now);
        txn.execute_raw(sql.build()).await?;
        let mut sql = Sql::new(backend);
        sql.push("WITH r AS ").json_table(&ATTEMPT_COLS[..2], rows).push(" ");
        in_flight_from(&mut sql, "r", now);
        txn.execute_raw(sql.build()).await?;
    }
    if let Some(rows) = decisions {
        let mut sql = Sql::new(backend);
        insert_decisions(&mut sql, round.campaign_id, rows, now);
        txn.execute_raw(sql.build()).await?;
    }
    Ok(())
}

/// The columns of an attempt row in its JSON (see [`attempt_rows`]); the
/// first two are all that putting the contacts in flight reads.
const ATTEMPT_COLS: [Col; 7] = [
    Col("contact_id", "BIGINT"),
    Col("vendor_id", "TEXT"),
    Col("attempt_no", "INTEGER"),
    Col("attempt_ref", "TEXT"),
    Col("phone", "TEXT"),
    Col("case_id", "TEXT"),
    Col("max_dials", "INTEGER"),
];

fn attempt_rows(attempts: &[NewAttempt]) -> Vec<Vec<serde_json::Value>> {
    attempts
        .iter()
        .map(|a| {
            vec![
                a.contact_id.into(),
                a.vendor_id.as_str().into(),
                a.attempt_no.into(),
                a.attempt_ref.as_str().into(),
                a.phone.as_str().into(),
                a.case_id.as_deref().into(),
                a.max_dials.into(),
            ]
        })
        .collect()
}

/// `INSERT INTO attempts … SELECT … FROM <rows>`: the values every attempt
/// of the round shares are bound once.
fn insert_attempts_from(sql: &mut Sql, round: &RoundWrites<'_>, rows: &str, now: DateTime<Utc>) {
    sql.insert_into()
        .push(
            " attempts (campaign_id, contact_id, attempt_no, vendor_id, attempt_ref, state, created_at, updated_at, \
             phone, case_id, max_dials, lease_owner, lease_expires_at) SELECT ",
        )
        .bind(round.campaign_id)
        .push(", contact_id, attempt_no, vendor_id, attempt_ref, ")
        .bind(AttemptState::Dispatching.as_str())
        .push(", ")
        .bind(now)
        .push(", ")
        .bind(now)
        .push(", phone, case_id, max_dials, ")
        .bind(round.lease.owner)
        .push(", ")
        .bind(round.lease.until)
        .push(" FROM ")
        .push(rows);
}

/// Claimed contacts go in flight, each remembering the vendor of this
/// attempt for its redial strategy.
fn in_flight_from(sql: &mut Sql, rows: &str, now: DateTime<Utc>) {
    sql.update()
        .push(" contacts SET state = ")
        .bind(ContactState::InFlight.as_str())
        .push(", due_at = NULL, attempt_seq = attempt_seq + 1, last_vendor_id = ")
        .push(rows)
        .push(".vendor_id, updated_at = ")
        .bind(now)
        .push(" FROM ")
        .push(rows)
        .push(" WHERE contacts.id = ")
        .push(rows)
        .push(".contact_id");
}

/// The columns of a decision row in its JSON (see [`decision_rows`]).
const DECISION_COLS: [Col; 6] = [
    Col("contact_id", "BIGINT"),
    Col("phone", "TEXT"),
    Col("attempt_no", "INTEGER"),
    Col("kind", "TEXT"),
    Col("reason", "TEXT"),
    Col("next_at", "TIMESTAMPTZ"),
];

fn decision_rows(decisions: &[ContactDecision]) -> Vec<Vec<serde_json::Value>> {
    decisions
        .iter()
        .map(|d| {
            vec![
                d.contact_id.into(),
                d.phone.as_str().into(),
                d.attempt_no.into(),
                d.kind.into(),
                d.reason.as_str().into(),
                d.next_at.map_or(serde_json::Value::Null, json_rows::instant),
            ]
        })
        .collect()
}

/// The decisions about single contacts (no zone group, no detail), as
/// `store::decisions` records them.
fn insert_decisions(sql: &mut Sql, campaign_id: i64, rows: String, now: DateTime<Utc>) {
    sql.insert_into()
        .push(" decisions (at, campaign_id, contact_id, phone, attempt_no, kind, reason, next_at) SELECT ")
        .bind(now)
        .push(", ")
        .bind(campaign_id)
        .push(", d.contact_id, d.phone, d.attempt_no, d.kind, d.reason, d.next_at FROM ")
        .json_table(&DECISION_COLS, rows)
        .push(" AS d");
}

/// Contacts due again later, each at its own instant (`(id, due)`).
pub(super) async fn set_due<C: ConnectionTrait>(
    txn: &C,
    deferrals: &[(i64, DateTime<Utc>)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = deferrals.iter().map(|(id, due)| vec![(*id).into(), (*due).into()]).collect();
    for chunk in values_list::chunks(rows) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.update()
            .push(" contacts SET due_at = v.due_at, updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["id", "due_at"], chunk)
            .push(" AS v WHERE contacts.id = v.id");
        let statement = sql.build();
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// A contact finished for good by the claim, and why.
pub(super) struct Finished {
    pub id: i64,
    pub state: ContactState,
    pub reason: String,
}

/// Contacts finished for good (stopped, suppressed, exhausted), out of the
/// due queue with their reasons.
pub(super) async fn finish<C: ConnectionTrait>(
    txn: &C,
    finished: Vec<Finished>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows = finished.into_iter().map(|f| vec![f.id.into(), f.state.as_str().into(), f.reason.into()]).collect();
    for chunk in values_list::chunks(rows) {
        let mut sql = Sql::new(txn.get_database_backend());
        sql.update()
            .push(" contacts SET state = v.state, due_at = NULL, finished_reason = v.reason, updated_at = ")
            .bind(now)
            .push(" FROM ")
            .values_table(&["id", "state", "reason"], chunk)
            .push(" AS v WHERE contacts.id = v.id");
        let statement = sql.build();
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// Take a contact whose row does not read out of the due queue, with why.
pub(super) async fn park<C: ConnectionTrait>(
    db: &C,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    contact::Entity::update_many()
        .col_expr(contact::Column::DueAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(contact::Column::FinishedReason, Expr::value(format!("not dialed: {reason}")))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now))
        .filter(contact::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
#[path = "claim_write_tests.rs"]
mod tests;

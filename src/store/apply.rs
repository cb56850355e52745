//! Applying an attempt's result: the attempt is finished (fenced on its state,
//! so a duplicate or late event is a no-op), then the recall policy decides
//! what happens to the contact (fenced on the attempt number).

use super::decisions::{DecisionBuffer, Subject};
use super::{IN_FLIGHT_STATES, StoreError};
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::matching::attempt_for_call;
use crate::domain::named_enum::UnknownName;
use crate::domain::outcome::Disposition;
use crate::domain::recall::AttemptResult;
use crate::domain::settlement::{
    AttemptFacts, AttemptUpdate, ContactFacts, ContactOutcome, ContactUpdate, DialEntry, SuppressionEntry, settle,
};
use crate::domain::state::{AttemptState, ContactState};
use chrono::{DateTime, Utc};
use entity::{attempt, contact, dial, suppression, vendor_task};
use sea_orm::sea_query::{Condition, Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The attempt finished now; the contact moved to this state.
    Finished { contact: ContactState },
    /// The attempt was already finished: a duplicate or late event, ignored.
    AlreadyFinished,
}

/// `dials` and `decisions` rows collected while applying results, inserted
/// with one statement per 500 rows (`flush`) before the transaction commits:
/// one INSERT per result cost the processor about 30 % of its throughput.
#[derive(Default)]
pub struct WriteBuffer {
    dials: Vec<dial::ActiveModel>,
    decisions: DecisionBuffer,
}

impl WriteBuffer {
    pub async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), StoreError> {
        self.decisions.flush(db).await?;
        while !self.dials.is_empty() {
            let rest = self.dials.split_off(self.dials.len().min(500));
            let chunk = std::mem::replace(&mut self.dials, rest);
            dial::Entity::insert_many(chunk)
                .on_conflict(OnConflict::columns([dial::Column::AttemptId, dial::Column::Seq]).do_nothing().to_owned())
                .exec_without_returning(db)
                .await?;
        }
        Ok(())
    }
}

/// The attempts a transaction is about to finish or write back, locked all
/// at once in id order before the first is updated.
///
/// Every transaction that writes several attempts (an inbox page, a dispatch
/// write-back, a poll) takes their row locks in this one order. Updating
/// them one by one in the order their events came in instead lets two such
/// transactions that share attempts each hold one the other waits for: with
/// several instances (or one instance's processor and dispatcher) PostgreSQL
/// then aborts one of them as deadlocked. (SQLite: a no-op, its write
/// transaction is exclusive.)
#[derive(Default)]
pub struct AttemptLocks {
    refs: Vec<String>,
    ids: Vec<i64>,
}

impl AttemptLocks {
    /// False where row locks do not exist (SQLite): callers skip collecting.
    pub fn needed<C: ConnectionTrait>(db: &C) -> bool {
        db.get_database_backend() == DbBackend::Postgres
    }

    /// The attempt named by our reference.
    pub fn add_ref(&mut self, attempt_ref: &str) {
        self.refs.push(attempt_ref.to_string());
    }

    /// The attempt a final vendor event is for, matched as [`find_attempt`]
    /// does (a read when the event does not carry our reference).
    pub async fn add_event<C: ConnectionTrait>(
        &mut self,
        db: &C,
        vendor_id: &str,
        event: &CallEvent,
    ) -> Result<(), StoreError> {
        match &event.attempt_ref {
            Some(r) => self.add_ref(r),
            None => self.ids.extend(find_attempt(db, vendor_id, event).await?.map(|a| a.id)),
        }
        Ok(())
    }

    /// Lock them (`SELECT ... ORDER BY id FOR UPDATE`) until the transaction ends.
    pub async fn lock<C: ConnectionTrait>(self, txn: &C) -> Result<(), StoreError> {
        if !Self::needed(txn) {
            return Ok(());
        }
        let mut any = Condition::any();
        for refs in self.refs.chunks(1000) {
            any = any.add(attempt::Column::AttemptRef.is_in(refs.iter().map(String::as_str)));
        }
        for ids in self.ids.chunks(1000) {
            any = any.add(attempt::Column::Id.is_in(ids.iter().copied()));
        }
        if any.is_empty() {
            return Ok(());
        }
        attempt::Entity::find()
            .select_only()
            .column(attempt::Column::Id)
            .filter(any)
            .order_by_asc(attempt::Column::Id)
            .lock_exclusive()
            .into_tuple::<i64>()
            .all(txn)
            .await?;
        Ok(())
    }
}

/// Finish `attempt` with `result` and run the recall policy for its contact.
/// Call inside a write transaction.
pub async fn apply_result<C: ConnectionTrait>(
    db: &C,
    camp: &Campaign,
    attempt: &attempt::Model,
    result: &AttemptResult,
    event: Option<&CallEvent>,
    now: DateTime<Utc>,
) -> Result<Applied, StoreError> {
    let mut dials = WriteBuffer::default();
    let applied = apply_result_buffered(db, camp, attempt, result, event, now, &mut dials).await?;
    dials.flush(db).await?;
    Ok(applied)
}

/// [`apply_result`], with the dials left in `dials` for the caller to flush
/// before it commits. Loads the facts, lets [`settle`] decide, writes.
#[tracing::instrument(skip_all, fields(campaign = %camp.name, contact = attempt.contact_id, attempt = %attempt.attempt_ref))]
pub async fn apply_result_buffered<C: ConnectionTrait>(
    db: &C,
    camp: &Campaign,
    attempt: &attempt::Model,
    result: &AttemptResult,
    event: Option<&CallEvent>,
    now: DateTime<Utc>,
    dials: &mut WriteBuffer,
) -> Result<Applied, StoreError> {
    let state: AttemptState = attempt.state.parse().map_err(|e: UnknownName| {
        corrupt_row("attempts", "state", attempt.id, &e.to_string());
        StoreError::BadCampaign { name: camp.name.clone(), message: format!("attempt {}: {e}", attempt.attempt_ref) }
    })?;
    let facts = AttemptFacts {
        attempt_ref: &attempt.attempt_ref,
        attempt_no: attempt.attempt_no,
        vendor_id: &attempt.vendor_id,
        state,
        created_at: attempt.created_at,
    };
    let row = contact::Entity::find_by_id(attempt.contact_id).one(db).await?;
    let contact = row.as_ref().map(contact_facts);
    let Some(settlement) = settle(camp, &facts, contact.as_ref(), result, event, now)? else {
        return Ok(Applied::AlreadyFinished);
    };
    if !write_attempt(db, attempt.id, &settlement.attempt, now).await? {
        return Ok(Applied::AlreadyFinished);
    }
    let Some(c) = row else { return Ok(Applied::Finished { contact: ContactState::Stopped }) };
    dials.dials.extend(settlement.dials.iter().map(|d| dial_row(attempt, &c, d)));
    if settlement.dials.len() > 1 {
        metrics::counter!("campaignd_vendor_redials_total", "vendor" => attempt.vendor_id.clone())
            .increment(settlement.dials.len() as u64 - 1);
    }
    for entry in &settlement.suppressions {
        suppress(db, entry, now).await?;
    }
    if let Some(o) = &settlement.attempt.outcome
        && o.disposition == Disposition::Unknown
    {
        let code = o.raw_code.clone().unwrap_or_default();
        tracing::warn!(vendor = %attempt.vendor_id, %code, "vendor outcome normalized to `unknown` (raw code kept)");
        metrics::counter!("campaignd_unknown_codes_total", "vendor" => attempt.vendor_id.clone(), "code" => code)
            .increment(1);
    }
    if let Some(reason) = &settlement.corrupt {
        corrupt_row("contacts", "recall_history", c.id, reason);
    }
    match settlement.contact {
        ContactOutcome::Missing => Ok(Applied::Finished { contact: ContactState::Stopped }),
        ContactOutcome::Corrupt { reason } => {
            corrupt_row("contacts", "state", c.id, &reason);
            Ok(Applied::Finished { contact: ContactState::Stopped })
        }
        ContactOutcome::MovedOn { state } => {
            tracing::warn!(attempt = %attempt.attempt_ref, contact_state = %state, "result for a contact that moved on; attempt recorded only");
            Ok(Applied::Finished { contact: state })
        }
        ContactOutcome::Moved { update, audit } => {
            let subject = Subject::Contact { id: c.id, phone: &c.phone, attempt_no: Some(attempt.attempt_no) };
            dials.decisions.record(camp.id, subject, audit.kind, audit.reason, audit.next_at, now);
            write_contact(db, c.id, attempt.attempt_no, &update, now).await?;
            Ok(Applied::Finished { contact: update.state })
        }
    }
}

/// A stored row that does not read: logged with its table, column and id,
/// and counted (`campaignd_corrupt_rows_total`), so an operator finds it.
pub fn corrupt_row(table: &'static str, column: &'static str, id: i64, reason: &str) {
    tracing::error!(table, column, id, %reason, "a stored row does not read; it is left out of decisions");
    metrics::counter!("campaignd_corrupt_rows_total", "table" => table, "column" => column).increment(1);
}

/// The contact row as [`settle`] reads it: state and counters parsed here,
/// at the store boundary, a bad value kept as the reason it does not read.
fn contact_facts(c: &contact::Model) -> ContactFacts<'_> {
    ContactFacts {
        id: c.id,
        phone: &c.phone,
        zones: c.zones.as_deref(),
        attempt_seq: c.attempt_seq,
        state: c.state.parse().map_err(|e: UnknownName| e.to_string()),
        history: serde_json::from_value(c.recall_history.clone()).map_err(|e| e.to_string()),
    }
}

/// Finish the attempt row. Fenced on "still in flight", not on the state we
/// read: the dispatcher may have moved it from dispatching to dispatched
/// meanwhile, and the result is just as valid then. Only a finished attempt
/// is left alone. False when it was.
async fn write_attempt<C: ConnectionTrait>(
    db: &C,
    id: i64,
    a: &AttemptUpdate,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut update = attempt::Entity::update_many()
        .col_expr(attempt::Column::State, Expr::value(a.state.as_str()))
        .col_expr(attempt::Column::CompletedAt, Expr::value(now))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .col_expr(attempt::Column::Error, Expr::value(a.error.clone()));
    if let Some(o) = &a.outcome {
        update = update
            .col_expr(attempt::Column::Disposition, Expr::value(o.disposition.as_str()))
            .col_expr(attempt::Column::Intent, Expr::value(o.intent.map(|i| i.as_str())))
            .col_expr(attempt::Column::RawCode, Expr::value(o.raw_code.clone()))
            .col_expr(attempt::Column::RawIntent, Expr::value(o.raw_intent.clone()));
    }
    if let Some(ms) = a.duration_ms {
        update = update.col_expr(attempt::Column::DurationMs, Expr::value(ms));
    }
    if let Some(call) = &a.external_call_id {
        update = update.col_expr(attempt::Column::ExternalCallId, Expr::value(call.clone()));
    }
    let res = update
        .filter(attempt::Column::Id.eq(id))
        .filter(attempt::Column::State.is_in(IN_FLIGHT_STATES))
        .exec(db)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Move the contact; fenced on "in flight with this attempt".
async fn write_contact<C: ConnectionTrait>(
    db: &C,
    id: i64,
    attempt_no: i32,
    u: &ContactUpdate,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let history = serde_json::to_value(&u.history).map_err(|e| StoreError::Corrupt {
        table: "contacts",
        id,
        message: format!("recall_history does not serialize: {e}"),
    })?;
    let mut update = contact::Entity::update_many()
        .col_expr(contact::Column::LastVendorFailed, Expr::value(u.vendor_failed))
        .col_expr(contact::Column::State, Expr::value(u.state.as_str()))
        .col_expr(contact::Column::DueAt, Expr::value(u.due_at))
        .col_expr(contact::Column::RecallHistory, Expr::value(history))
        .col_expr(contact::Column::FinishedReason, Expr::value(u.finished_reason.clone()))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now));
    if let Some(o) = &u.last_outcome {
        update = update
            .col_expr(contact::Column::LastDisposition, Expr::value(o.disposition.as_str()))
            .col_expr(contact::Column::LastIntent, Expr::value(o.intent.map(|i| i.as_str())))
            .col_expr(contact::Column::LastRawCode, Expr::value(o.raw_code.clone()));
    }
    update
        .filter(contact::Column::Id.eq(id))
        .filter(contact::Column::State.eq(ContactState::InFlight.as_str()))
        .filter(contact::Column::AttemptSeq.eq(attempt_no))
        .exec(db)
        .await?;
    Ok(())
}

/// Put a number on the suppression list (an existing entry is kept).
async fn suppress<C: ConnectionTrait>(db: &C, entry: &SuppressionEntry, now: DateTime<Utc>) -> Result<(), StoreError> {
    suppression::Entity::insert(suppression::ActiveModel {
        phone: Set(entry.phone.clone()),
        reason: Set(entry.reason.clone()),
        source: Set(entry.source.clone()),
        created_at: Set(now),
        expires_at: Set(None),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(suppression::Column::Phone).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// A `dials` row. Unique on (attempt, seq), so a result that arrives by
/// callback and by poll records its dials once.
fn dial_row(attempt: &attempt::Model, c: &contact::Model, d: &DialEntry) -> dial::ActiveModel {
    dial::ActiveModel {
        intent: Set(d.outcome.intent.map(|i| i.as_str().to_string())),
        attempt_id: Set(attempt.id),
        seq: Set(d.seq),
        contact_id: Set(c.id),
        campaign_id: Set(attempt.campaign_id),
        vendor_id: Set(attempt.vendor_id.clone()),
        phone: Set(c.phone.clone()),
        case_id: Set(c.case_id.clone()),
        external_call_id: Set(d.external_call_id.clone()),
        dialed_at: Set(d.dialed_at),
        vendor_dialed_at: Set(d.vendor_dialed_at),
        disposition: Set(d.outcome.disposition.as_str().to_string()),
        raw_code: Set(d.outcome.raw_code.clone()),
        vendor_redial: Set(d.vendor_redial),
        ..Default::default()
    }
}

/// Find the attempt a vendor event refers to: by our reference, else by the
/// vendor's call id, else by the vendor task and the callee's phone (newest
/// attempt first: a phone appears once per batch), else — for results that
/// carry none of these, like Laaffic's push — by (vendor, phone) with a time
/// fence (see [`by_vendor_phone`]).
pub async fn find_attempt<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    event: &CallEvent,
) -> Result<Option<attempt::Model>, StoreError> {
    if let Some(r) = &event.attempt_ref
        && let Some(a) = attempt::Entity::find().filter(attempt::Column::AttemptRef.eq(r.as_str())).one(db).await?
    {
        return Ok((a.vendor_id == vendor_id).then_some(a));
    }
    if let Some(id) = &event.external_call_id
        && let Some(a) = attempt::Entity::find()
            .filter(attempt::Column::VendorId.eq(vendor_id))
            .filter(attempt::Column::ExternalCallId.eq(id.as_str()))
            .one(db)
            .await?
    {
        return Ok(Some(a));
    }
    let Some(phone) = &event.phone else { return Ok(None) };
    if let Some(task) = &event.vendor_task_id {
        let tasks: Vec<i64> = vendor_task::Entity::find()
            .select_only()
            .column(vendor_task::Column::Id)
            .filter(vendor_task::Column::VendorId.eq(vendor_id))
            .filter(vendor_task::Column::ExternalTaskId.eq(task.as_str()))
            .into_tuple()
            .all(db)
            .await?;
        if !tasks.is_empty() {
            return Ok(attempt::Entity::find()
                .filter(attempt::Column::VendorTaskId.is_in(tasks))
                .filter(attempt::Column::Phone.eq(phone.as_str()))
                .order_by_desc(attempt::Column::Id)
                .one(db)
                .await?);
        }
        // A task id we never recorded (the vendor's own id for a redial
        // round, a task created by a lost dispatch answer): the phone decides.
    }
    by_vendor_phone(db, vendor_id, phone, event).await
}

/// The attempt of `vendor_id` for `phone` that a result describing a call
/// at the event's time belongs to ([`attempt_for_call`]).
pub async fn by_vendor_phone<C: ConnectionTrait>(
    db: &C,
    vendor_id: &str,
    phone: &str,
    event: &CallEvent,
) -> Result<Option<attempt::Model>, StoreError> {
    let mut candidates = attempt::Entity::find()
        .filter(attempt::Column::VendorId.eq(vendor_id))
        .filter(attempt::Column::Phone.eq(phone))
        .order_by_desc(attempt::Column::Id)
        .limit(20)
        .all(db)
        .await?;
    let created: Vec<DateTime<Utc>> = candidates.iter().map(|a| a.created_at).collect();
    Ok(attempt_for_call(&created, event.started_at.or(event.ended_at)).map(|i| candidates.swap_remove(i)))
}

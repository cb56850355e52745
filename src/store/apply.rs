//! Applying an attempt's result: the attempt is finished (fenced on its state,
//! so a duplicate or late event is a no-op), then the recall policy decides
//! what happens to the contact (fenced on the attempt number).

use super::campaigns::CampaignCtx;
use super::decisions::{DecisionBuffer, Subject, kind};
use super::{IN_FLIGHT_STATES, StoreError};
use crate::domain::matching::attempt_for_call;
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::recall::{AttemptResult, DEFAULT_RULE, Decision, RecallHistory, decide};
use crate::domain::state::{AttemptEvent, AttemptState, CampaignState, ContactEvent, ContactState};
use crate::vendors::CallEvent;
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

/// What to write on the attempt row.
fn attempt_fields(result: &AttemptResult) -> (AttemptEvent, Option<&Outcome>, Option<String>) {
    match result {
        AttemptResult::Completed(o) if o.disposition == Disposition::Cancelled => {
            (AttemptEvent::Cancel, Some(o), Some("vendor cancelled the call before dialing".into()))
        }
        AttemptResult::Completed(o) => (AttemptEvent::Complete, Some(o), None),
        AttemptResult::VendorFailed { reason } => (AttemptEvent::Fail, None, Some(reason.clone())),
        AttemptResult::Lost => (AttemptEvent::Lose, None, Some("no result from the vendor".into())),
    }
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
    camp: &CampaignCtx,
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
/// before it commits.
#[tracing::instrument(skip_all, fields(campaign = %camp.name, contact = attempt.contact_id, attempt = %attempt.attempt_ref))]
pub async fn apply_result_buffered<C: ConnectionTrait>(
    db: &C,
    camp: &CampaignCtx,
    attempt: &attempt::Model,
    result: &AttemptResult,
    event: Option<&CallEvent>,
    now: DateTime<Utc>,
    dials: &mut WriteBuffer,
) -> Result<Applied, StoreError> {
    let (event_kind, outcome, error) = attempt_fields(result);
    let from: AttemptState = attempt.state.parse().map_err(|e: String| StoreError::BadCampaign {
        name: camp.name.clone(),
        message: format!("attempt {}: {e}", attempt.attempt_ref),
    })?;
    let Ok(to) = from.apply(event_kind) else { return Ok(Applied::AlreadyFinished) };

    let mut update = attempt::Entity::update_many()
        .col_expr(attempt::Column::State, Expr::value(to.as_str()))
        .col_expr(attempt::Column::CompletedAt, Expr::value(now))
        .col_expr(attempt::Column::UpdatedAt, Expr::value(now))
        .col_expr(attempt::Column::Error, Expr::value(error));
    if let Some(o) = outcome {
        update = update
            .col_expr(attempt::Column::Disposition, Expr::value(o.disposition.as_str()))
            .col_expr(attempt::Column::Intent, Expr::value(o.intent.map(|i| i.as_str())))
            .col_expr(attempt::Column::RawCode, Expr::value(o.raw_code.clone()))
            .col_expr(attempt::Column::RawIntent, Expr::value(o.raw_intent.clone()));
    }
    if let Some(ev) = event {
        update = update.col_expr(attempt::Column::DurationMs, Expr::value(ev.duration_ms));
        if let Some(id) = &ev.external_call_id {
            update = update.col_expr(attempt::Column::ExternalCallId, Expr::value(id.clone()));
        }
    }
    // Fence on "still in flight", not on the state we read: the dispatcher may
    // have moved it from dispatching to dispatched meanwhile, and the result
    // is just as valid then. Only a finished attempt is left alone.
    let res = update
        .filter(attempt::Column::Id.eq(attempt.id))
        .filter(attempt::Column::State.is_in(IN_FLIGHT_STATES))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Ok(Applied::AlreadyFinished);
    }

    let Some(c) = contact::Entity::find_by_id(attempt.contact_id).one(db).await? else {
        return Ok(Applied::Finished { contact: ContactState::Stopped });
    };
    if let (AttemptResult::Completed(o), Some(ev)) = (result, event)
        && o.disposition != Disposition::Cancelled
    {
        record_dials(attempt, &c, ev, now, dials);
    }
    // The vendor's own blacklist is honoured everywhere, whether or not this
    // result may still move the contact.
    let blacklisted = event.is_some_and(|e| e.blacklisted);
    if blacklisted {
        let reason = format!("on the vendor's blacklist ({})", outcome.map(describe).unwrap_or_default());
        suppress(db, &c.phone, reason, format!("vendor:{}", attempt.vendor_id), now).await?;
    }
    if let Some(o) = outcome
        && o.disposition == Disposition::Unknown
    {
        let code = o.raw_code.clone().unwrap_or_default();
        tracing::warn!(vendor = %attempt.vendor_id, %code, "vendor outcome normalized to `unknown` (raw code kept)");
        metrics::counter!("campaignd_unknown_codes_total", "vendor" => attempt.vendor_id.clone(), "code" => code)
            .increment(1);
    }
    let contact_state: ContactState = c.state.parse().unwrap_or(ContactState::Stopped);
    // Fence: only the contact's current attempt may move it.
    if contact_state != ContactState::InFlight || c.attempt_seq != attempt.attempt_no {
        tracing::warn!(attempt = %attempt.attempt_ref, contact_state = %contact_state, "result for a contact that moved on; attempt recorded only");
        return Ok(Applied::Finished { contact: contact_state });
    }
    let history: RecallHistory = serde_json::from_value(c.recall_history.clone()).unwrap_or_default();
    // A call the vendor cancelled before dialing (window closed, campaign
    // paused) was never made: like a vendor-side failure, it does not consume
    // one of the contact's attempts.
    let cancelled;
    let policy_input = match result {
        AttemptResult::Completed(o) if o.disposition == Disposition::Cancelled => {
            cancelled = AttemptResult::VendorFailed { reason: "vendor cancelled the call before dialing".into() };
            &cancelled
        }
        other => other,
    };
    let (mut decision, new_history) = decide(&camp.policy, &history, policy_input, now);
    if camp.state == CampaignState::Cancelled {
        decision = Decision::Stopped { reason: "campaign cancelled".into() };
    }
    let callback = matches!(decision, Decision::RetryAt { requested: true, .. });
    if blacklisted && !matches!(decision, Decision::Stopped { .. } | Decision::Suppress { .. }) {
        decision = Decision::Blacklisted;
    }
    let (event, due, reason) = match decision {
        Decision::Blacklisted => {
            (ContactEvent::Suppress, None, Some(format!("the vendor {} blacklisted the number", attempt.vendor_id)))
        }
        Decision::RetryAt { not_before, rule, requested } => {
            // Clamped into the contact's windows here; frequency caps are
            // checked when it comes due (the claim sees every campaign's
            // dials at that moment, not a guess made now).
            let asked = outcome.and_then(|o| o.requested_at).filter(|_| requested);
            match camp.dial_window(c.zones.as_deref()) {
                Err(e) => (ContactEvent::Stop, None, Some(format!("cannot tell when to call: {e}"))),
                Ok(w) => match w.next_dispatch(not_before).filter(|t| camp.ends_at.is_none_or(|end| *t < end)) {
                    Some(t) => (ContactEvent::Retry, Some(t), Some(retry_reason(rule, not_before, asked))),
                    None => (ContactEvent::Exhaust, None, Some("no calling window left for a retry".to_string())),
                },
            }
        }
        Decision::Done { rule } => (ContactEvent::Finish, None, Some(rule_name(rule, "stop"))),
        Decision::Exhausted { reason } => (ContactEvent::Exhaust, None, Some(reason)),
        Decision::Stopped { reason } => (ContactEvent::Stop, None, Some(reason)),
        Decision::Suppress { rule } => {
            let reason = format!(
                "{} after {}",
                rule_name(Some(rule), "suppress"),
                outcome.map(describe).unwrap_or_else(|| "lost call".into())
            );
            suppress(db, &c.phone, reason.clone(), format!("campaign:{}", camp.name), now).await?;
            (ContactEvent::Suppress, None, Some(reason))
        }
    };
    let new_state = contact_state.apply(event)?;
    let kind = match new_state {
        ContactState::WaitingRetry if callback => kind::CALLBACK,
        ContactState::WaitingRetry => kind::RETRY,
        ContactState::Done => kind::DONE,
        ContactState::Exhausted => kind::EXHAUSTED,
        ContactState::Suppressed => kind::SUPPRESSED,
        _ => kind::STOPPED,
    };
    let result_text = match outcome {
        Some(o) => describe(o),
        None => attempt.state.clone(),
    };
    let why = format!("after {result_text}: {}", reason.as_deref().unwrap_or_default());
    let subject = Subject::Contact { id: c.id, phone: &c.phone, attempt_no: Some(attempt.attempt_no) };
    dials.decisions.record(camp.id, subject, kind, why, due, now);
    let vendor_failed = matches!(policy_input, AttemptResult::VendorFailed { .. });
    let mut update = contact::Entity::update_many()
        .col_expr(contact::Column::LastVendorFailed, Expr::value(vendor_failed))
        .col_expr(contact::Column::State, Expr::value(new_state.as_str()))
        .col_expr(contact::Column::DueAt, Expr::value(due))
        .col_expr(contact::Column::RecallHistory, Expr::value(serde_json::to_value(&new_history).unwrap_or_default()))
        .col_expr(contact::Column::FinishedReason, Expr::value(reason))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now));
    if let Some(o) = outcome {
        update = update
            .col_expr(contact::Column::LastDisposition, Expr::value(o.disposition.as_str()))
            .col_expr(contact::Column::LastIntent, Expr::value(o.intent.map(|i| i.as_str())))
            .col_expr(contact::Column::LastRawCode, Expr::value(o.raw_code.clone()));
    }
    update
        .filter(contact::Column::Id.eq(c.id))
        .filter(contact::Column::State.eq("in_flight"))
        .filter(contact::Column::AttemptSeq.eq(attempt.attempt_no))
        .exec(db)
        .await?;
    Ok(Applied::Finished { contact: new_state })
}

/// Put `phone` on the suppression list (an existing entry is kept).
async fn suppress<C: ConnectionTrait>(
    db: &C,
    phone: &str,
    reason: String,
    source: String,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    suppression::Entity::insert(suppression::ActiveModel {
        phone: Set(phone.to_string()),
        reason: Set(reason),
        source: Set(source),
        created_at: Set(now),
        expires_at: Set(None),
        ..Default::default()
    })
    .on_conflict(OnConflict::column(suppression::Column::Phone).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// One `dials` row per real dial of the attempt: the first (seq 0) and each
/// redial the vendor made on its own. Unique on (attempt, seq), so a result
/// that arrives by callback and by poll records its dials once.
fn record_dials(
    attempt: &attempt::Model,
    c: &contact::Model,
    ev: &CallEvent,
    now: DateTime<Utc>,
    dials: &mut WriteBuffer,
) {
    // A vendor's clock or time zone setting can be wrong (one reported dials
    // 11 days before we handed it the number): the dial is recorded inside
    // the span it can really have happened in, the vendor's word beside it,
    // so frequency caps count it in the right window.
    // The lower bound is the claim, not `dispatched_at`: a vendor may dial
    // before its answer to the dispatch is written back.
    let earliest = attempt.created_at;
    let clamp = |t: Option<DateTime<Utc>>| t.unwrap_or(now).clamp(earliest, now.max(earliest));
    let vendor_first = ev.started_at.or(ev.ended_at);
    let row = |seq: i32, call: Option<String>, vendor_at: Option<DateTime<Utc>>, o: &Outcome, redial: bool| {
        dial::ActiveModel {
            intent: Set(o.intent.map(|i| i.as_str().to_string())),
            attempt_id: Set(attempt.id),
            seq: Set(seq),
            contact_id: Set(c.id),
            campaign_id: Set(attempt.campaign_id),
            vendor_id: Set(attempt.vendor_id.clone()),
            phone: Set(c.phone.clone()),
            case_id: Set(c.case_id.clone()),
            external_call_id: Set(call),
            dialed_at: Set(clamp(vendor_at)),
            vendor_dialed_at: Set(vendor_at),
            disposition: Set(o.disposition.as_str().to_string()),
            raw_code: Set(o.raw_code.clone()),
            vendor_redial: Set(redial),
            ..Default::default()
        }
    };
    // With redials, the final outcome is the last dial's; the first dial
    // keeps its own (unknown, at the event's time, when the vendor did not
    // describe it).
    let unknown = Outcome::new(Disposition::Unknown);
    let rows0 = match (&ev.first_dial, ev.redials.is_empty()) {
        (_, true) => row(0, ev.external_call_id.clone(), vendor_first, &ev.outcome, false),
        (Some(d), false) => row(0, d.external_call_id.clone(), d.at.or(vendor_first), &d.outcome, false),
        (None, false) => row(0, None, vendor_first, &unknown, false),
    };
    let mut rows = vec![rows0];
    for (i, r) in ev.redials.iter().enumerate() {
        rows.push(row(i as i32 + 1, r.external_call_id.clone(), r.at.or(vendor_first), &r.outcome, true));
    }
    if !ev.redials.is_empty() {
        metrics::counter!("campaignd_vendor_redials_total", "vendor" => attempt.vendor_id.clone())
            .increment(ev.redials.len() as u64);
    }
    dials.dials.extend(rows);
}

fn rule_name(rule: Option<usize>, action: &str) -> String {
    match rule.filter(|r| *r != DEFAULT_RULE) {
        Some(i) => format!("recall rule #{} ({action})", i + 1),
        None => format!("default action ({action})"),
    }
}

/// `asked` is the callee's requested time when it decided `not_before`.
fn retry_reason(rule: Option<usize>, not_before: DateTime<Utc>, asked: Option<DateTime<Utc>>) -> String {
    let retry = match rule.filter(|r| *r != DEFAULT_RULE) {
        Some(i) => format!("retry by recall rule #{}, not before {not_before}", i + 1),
        None => format!("retry not before {not_before}"),
    };
    match asked {
        // recall::decide only moves a requested time later than now down to the cap.
        Some(at) if at > not_before => {
            format!("callback requested for {at}, capped by max_callback_delay: {retry}")
        }
        Some(at) => format!("callback requested for {at}: {retry}"),
        None => retry,
    }
}

fn describe(o: &Outcome) -> String {
    match o.intent {
        Some(i) => format!("{} / {}", o.disposition, i),
        None => o.disposition.to_string(),
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

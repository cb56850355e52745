//! Applying an attempt's result: the attempt is finished (fenced on its state,
//! so a duplicate or late event is a no-op), then the recall policy decides
//! what happens to the contact (fenced on the attempt number).

use super::StoreError;
use super::decisions::{DecisionBuffer, Subject};
use super::settle_writes::{ContactMove, finish_attempts, move_contacts, suppress_all};
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::forwarding::ForwardEvents;
use crate::domain::forwarding::payload::{SettledResult, for_result};
use crate::domain::named_enum::UnknownName;
use crate::domain::outcome::Disposition;
use crate::domain::recall::AttemptResult;
use crate::domain::settlement::{AttemptFacts, ContactFacts, ContactOutcome, Settlement, SuppressionEntry, settle};
use crate::domain::state::{AttemptState, ContactState};
use chrono::{DateTime, Utc};
use entity::{attempt, contact, dial, forward_outbox};
use sea_orm::sea_query::{Condition, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

pub use super::attempt_match::{by_vendor_phone, find_attempt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The attempt finished now; the contact moved to this state.
    Finished { contact: ContactState },
    /// The attempt was already finished: a duplicate or late event, ignored.
    AlreadyFinished,
}

/// `dials` and `decisions` rows collected while applying results, inserted
/// in multi-row statements of a few fixed sizes (`flush`, see
/// [`super::raw_sql::insert_chunks`]) before the transaction commits:
/// one INSERT per result cost the processor about 30 % of its throughput.
#[derive(Default)]
pub struct WriteBuffer {
    dials: Vec<dial::ActiveModel>,
    decisions: DecisionBuffer,
    /// Events for the forwarding outbox: written with the results, in the
    /// same transaction, so neither commits without the other.
    forwards: Vec<forward_outbox::ActiveModel>,
    /// Some were flushed: the caller wakes the forwarding worker once it commits.
    flushed_forwards: bool,
}

impl WriteBuffer {
    /// Whether a flush wrote forwarding events (wake the worker after commit).
    pub fn wrote_forwards(&self) -> bool {
        self.flushed_forwards
    }

    pub async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), StoreError> {
        self.decisions.flush(db).await?;
        let forwards = std::mem::take(&mut self.forwards);
        self.flushed_forwards |= !forwards.is_empty();
        super::forward_outbox::insert_all(db, forwards).await?;
        for chunk in super::raw_sql::insert_chunks(std::mem::take(&mut self.dials)) {
            let seq_taken = OnConflict::columns([dial::Column::AttemptId, dial::Column::Seq]).do_nothing().to_owned();
            super::raw_sql::insert_many(db, chunk, Some(seq_taken)).await?;
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
/// before it commits. Loads the facts, lets [`settle`] decide, writes: a page
/// of one result, written by the statements an inbox page uses
/// ([`super::settle_page`]), attempt and contact at once.
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
    let state = attempt_state(camp, attempt)?;
    let row = contact::Entity::find_by_id(attempt.contact_id).one(db).await?;
    let contact = row.as_ref().map(contact_facts);
    let Some(settled) = settle_attempt(camp, attempt, state, row.as_ref(), contact.as_ref(), result, event, now)?
    else {
        return Ok(Applied::AlreadyFinished);
    };
    if !finish_attempts(db, &[(attempt.id, &settled.settlement.attempt)], now).await?.contains(&attempt.id) {
        return Ok(Applied::AlreadyFinished);
    }
    let mut followups = Followups::default();
    let contact = settled.confirm(now, &mut followups, dials);
    followups.write(db, now).await?;
    Ok(Applied::Finished { contact })
}

/// `attempts.state`, read at the store boundary; a bad value fails the
/// result (it stays pending and is reported) rather than being guessed.
pub fn attempt_state(camp: &Campaign, attempt: &attempt::Model) -> Result<AttemptState, StoreError> {
    attempt.state.parse().map_err(|e: UnknownName| {
        corrupt_row("attempts", "state", attempt.id, &e.to_string());
        StoreError::BadCampaign { name: camp.name.clone(), message: format!("attempt {}: {e}", attempt.attempt_ref) }
    })
}

/// A result [`settle`]d against its attempt and not written yet: the
/// attempt's update is written first (fenced on "still in flight"); what
/// follows from it ([`Settled::confirm`]) only once that update took.
pub struct Settled {
    pub attempt_id: i64,
    attempt_ref: String,
    attempt_no: i32,
    campaign_id: i64,
    campaign_name: String,
    /// The events the campaign forwards.
    forward: ForwardEvents,
    started_at: DateTime<Utc>,
    vendor_id: String,
    /// The contact as stored, when it exists: (id, phone, case id).
    contact: Option<(i64, String, Option<String>)>,
    pub settlement: Settlement,
}

/// Let [`settle`] decide what `result` does to `attempt` (whose state is
/// `state`, as the caller sees it) and its contact (`row` as stored, read as
/// `facts`). None when the attempt is already finished.
#[allow(clippy::too_many_arguments)]
pub fn settle_attempt(
    camp: &Campaign,
    attempt: &attempt::Model,
    state: AttemptState,
    row: Option<&contact::Model>,
    facts: Option<&ContactFacts<'_>>,
    result: &AttemptResult,
    event: Option<&CallEvent>,
    now: DateTime<Utc>,
) -> Result<Option<Settled>, StoreError> {
    let attempt_facts = AttemptFacts {
        attempt_ref: &attempt.attempt_ref,
        attempt_no: attempt.attempt_no,
        vendor_id: &attempt.vendor_id,
        state,
        created_at: attempt.created_at,
    };
    let Some(settlement) = settle(camp, &attempt_facts, facts, result, event, now)? else { return Ok(None) };
    Ok(Some(Settled {
        attempt_id: attempt.id,
        attempt_ref: attempt.attempt_ref.clone(),
        attempt_no: attempt.attempt_no,
        campaign_id: attempt.campaign_id,
        campaign_name: camp.name.clone(),
        forward: camp.forward,
        started_at: attempt.created_at,
        vendor_id: attempt.vendor_id.clone(),
        contact: row.map(|c| (c.id, c.phone.clone(), c.case_id.clone())),
        settlement,
    }))
}

/// The contact moves and suppressions of results whose attempts were
/// finished, written together ([`Followups::write`]).
#[derive(Default)]
pub struct Followups {
    contacts: Vec<ContactMove>,
    suppressions: Vec<SuppressionEntry>,
}

impl Followups {
    pub async fn write<C: ConnectionTrait>(self, db: &C, now: DateTime<Utc>) -> Result<(), StoreError> {
        suppress_all(db, &self.suppressions, now).await?;
        move_contacts(db, &self.contacts, now).await
    }
}

impl Settled {
    /// The page has no span per result: this debug line names each one for
    /// whoever follows a contact through the log.
    pub fn log_settled(&self, contact_id: i64) {
        tracing::debug!(campaign = %self.campaign_name, contact = contact_id, attempt = %self.attempt_ref, vendor = %self.vendor_id, "result settled");
    }

    /// The attempt was finished: collect what follows (the contact's move,
    /// suppressions in `followups`; dials and the audit row in `dials`),
    /// log and count what an operator should see. Returns the contact's state.
    pub fn confirm(self, now: DateTime<Utc>, followups: &mut Followups, dials: &mut WriteBuffer) -> ContactState {
        let Settled {
            attempt_id,
            attempt_ref,
            attempt_no,
            campaign_id,
            campaign_name,
            forward,
            started_at,
            vendor_id,
            contact,
            settlement,
        } = self;
        let Some((contact_id, phone, case_id)) = contact else { return ContactState::Stopped };
        if !forward.is_empty() {
            let result = SettledResult {
                campaign: &campaign_name,
                contact_id,
                external_id: case_id.as_deref(),
                phone: &phone,
                attempt_ref: &attempt_ref,
                attempt_no,
                vendor: &vendor_id,
                started_at,
                settlement: &settlement,
                now,
            };
            for p in for_result(forward, &result) {
                let row = super::forward_outbox::new_row(campaign_id, contact_id, attempt_id, &p, now);
                dials.forwards.push(row);
            }
        }
        dials.dials.extend(settlement.dials.iter().map(|d| dial::ActiveModel {
            intent: Set(d.outcome.intent.map(|i| i.as_str().to_string())),
            attempt_id: Set(attempt_id),
            seq: Set(d.seq),
            contact_id: Set(contact_id),
            campaign_id: Set(campaign_id),
            vendor_id: Set(vendor_id.clone()),
            phone: Set(phone.clone()),
            case_id: Set(case_id.clone()),
            external_call_id: Set(d.external_call_id.clone()),
            dialed_at: Set(d.dialed_at),
            vendor_dialed_at: Set(d.vendor_dialed_at),
            disposition: Set(d.outcome.disposition.as_str().to_string()),
            raw_code: Set(d.outcome.raw_code.clone()),
            vendor_redial: Set(d.vendor_redial),
            ..Default::default()
        }));
        if settlement.dials.len() > 1 {
            metrics::counter!("campaignd_vendor_redials_total", "vendor" => vendor_id.clone())
                .increment(settlement.dials.len() as u64 - 1);
        }
        followups.suppressions.extend(settlement.suppressions);
        if let Some(o) = &settlement.attempt.outcome
            && o.disposition == Disposition::Unknown
        {
            let code = o.raw_code.clone().unwrap_or_default();
            tracing::warn!(vendor = %vendor_id, %code, "vendor outcome normalized to `unknown` (raw code kept)");
            metrics::counter!("campaignd_unknown_codes_total", "vendor" => vendor_id, "code" => code).increment(1);
        }
        if let Some(reason) = &settlement.corrupt {
            corrupt_row("contacts", "recall_history", contact_id, reason);
        }
        match settlement.contact {
            ContactOutcome::Missing => ContactState::Stopped,
            ContactOutcome::Corrupt { reason } => {
                corrupt_row("contacts", "state", contact_id, &reason);
                ContactState::Stopped
            }
            ContactOutcome::MovedOn { state } => {
                tracing::warn!(attempt = %attempt_ref, contact_state = %state, "result for a contact that moved on; attempt recorded only");
                state
            }
            ContactOutcome::Moved { update, audit } => {
                let subject = Subject::Contact { id: contact_id, phone: &phone, attempt_no: Some(attempt_no) };
                dials.decisions.record(campaign_id, subject, audit.kind, audit.reason, audit.next_at, now);
                let state = update.state;
                followups.contacts.push(ContactMove { contact_id, attempt_no, update });
                state
            }
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
pub fn contact_facts(c: &contact::Model) -> ContactFacts<'_> {
    ContactFacts {
        id: c.id,
        phone: &c.phone,
        zones: c.zones.as_deref(),
        attempt_seq: c.attempt_seq,
        state: c.state.parse().map_err(|e: UnknownName| e.to_string()),
        history: serde_json::from_value(c.recall_history.clone()).map_err(|e| e.to_string()),
    }
}

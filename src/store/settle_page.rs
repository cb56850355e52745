//! Settling a page of vendor events at once: load what the page needs with
//! one query per table, let `domain::settlement::settle` decide each event in
//! page order (the page's earlier events seen through a
//! [`PageLedger`], as the database would show them had each been written at
//! once), then write with one statement per table.
//!
//! Per page: the attempts (by our reference; the events without one, or
//! whose reference names no attempt, by call id, task and phone, or phone,
//! a batch of queries for all of them), the
//! contacts, the campaigns not cached yet; then the attempts finished (fenced,
//! reading back which were), the contacts moved, the suppressions.

use super::StoreError;
use super::apply::{Followups, Settled, WriteBuffer, attempt_state, contact_facts, settle_attempt};
use super::attempt_match_page::find_attempts_by_call;
use super::raw_sql::padded_chunks;
use super::settle_writes::finish_attempts;
use crate::domain::call_event::CallEvent;
use crate::domain::campaign::Campaign;
use crate::domain::compliance::ComplianceSettings;
use crate::domain::inbox_page::PageLedger;
use crate::domain::recall::AttemptResult;
use chrono::{DateTime, Utc};
use entity::{attempt, contact};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventApplied {
    Applied,
    /// The attempt was already finished (duplicate, or result seen by poll and callback).
    Late,
    Unmatched,
}

/// One final vendor event of the page and the vendor it came from.
#[derive(Debug, Clone, Copy)]
pub struct PageEvent<'a> {
    pub vendor_id: &'a str,
    pub event: &'a CallEvent,
    /// When its callback was received (stored in the inbox): the attempt's
    /// `received_at`, from which its callback lag is measured.
    pub received_at: DateTime<Utc>,
}

/// A page's facts, what it settled so far, and what it will write.
pub struct PageSettler {
    attempts: HashMap<i64, attempt::Model>,
    by_ref: HashMap<String, i64>,
    /// Per event: the attempt matched past our reference (call id, task and
    /// phone, phone), for events without a reference or whose reference
    /// names no attempt.
    by_call: Vec<Option<i64>>,
    contacts: HashMap<i64, contact::Model>,
    ledger: PageLedger,
    /// (event index, its settlement), in page order.
    settled: Vec<(usize, Settled)>,
}

impl PageSettler {
    /// Load what settling `events` needs, and the campaigns missing from
    /// `campaigns`. On PostgreSQL the attempts are locked in id order by the
    /// one query that loads them (see [`super::apply::AttemptLocks`]):
    /// events without our reference are matched before, so theirs are in it.
    pub async fn load<C: ConnectionTrait>(
        txn: &C,
        compliance: &ComplianceSettings,
        events: &[PageEvent<'_>],
        campaigns: &mut HashMap<i64, Campaign>,
    ) -> Result<PageSettler, StoreError> {
        let mut attempts = HashMap::new();
        let mut by_call = vec![None; events.len()];
        let without_ref: Vec<usize> = (0..events.len()).filter(|&i| events[i].event.attempt_ref.is_none()).collect();
        for (i, a) in match_by_call(txn, events, &without_ref).await? {
            by_call[i] = Some(a.id);
            attempts.insert(a.id, a);
        }
        let refs: BTreeSet<&str> = events.iter().filter_map(|e| e.event.attempt_ref.as_deref()).collect();
        let ids: Vec<i64> = attempts.keys().copied().collect();
        let mut by_ref = HashMap::with_capacity(refs.len());
        for a in load_attempts(txn, &refs.into_iter().collect::<Vec<_>>(), &ids).await? {
            by_ref.insert(a.attempt_ref.clone(), a.id);
            attempts.insert(a.id, a);
        }
        // A reference that names no attempt (not ours, or from before a
        // restore): matched as an event without one, unlocked as before.
        let unknown_ref: Vec<usize> = (0..events.len())
            .filter(|&i| events[i].event.attempt_ref.as_ref().is_some_and(|r| !by_ref.contains_key(r)))
            .collect();
        for (i, a) in match_by_call(txn, events, &unknown_ref).await? {
            by_call[i] = Some(a.id);
            attempts.entry(a.id).or_insert(a);
        }
        let contact_ids: BTreeSet<i64> = attempts.values().map(|a| a.contact_id).collect();
        let contacts = load_contacts(txn, &contact_ids.into_iter().collect::<Vec<_>>()).await?;
        let campaign_ids: BTreeSet<i64> = attempts.values().map(|a| a.campaign_id).collect();
        for id in campaign_ids {
            if let std::collections::hash_map::Entry::Vacant(e) = campaigns.entry(id) {
                e.insert(super::campaigns::load(txn, id, compliance).await?);
            }
        }
        Ok(PageSettler { attempts, by_ref, by_call, contacts, ledger: PageLedger::default(), settled: Vec::new() })
    }

    /// Settle event `i` of the page (events are settled in page order):
    /// `Applied` until [`write`](Self::write) finds its attempt already
    /// finished in the database after all.
    pub fn settle(
        &mut self,
        i: usize,
        e: &PageEvent<'_>,
        campaigns: &HashMap<i64, Campaign>,
        now: DateTime<Utc>,
    ) -> Result<EventApplied, StoreError> {
        let Some(id) = self.attempt_for(i, e) else { return Ok(EventApplied::Unmatched) };
        let a = &self.attempts[&id];
        let camp =
            campaigns.get(&a.campaign_id).ok_or_else(|| StoreError::NoSuchCampaign(format!("#{}", a.campaign_id)))?;
        let state = self.ledger.attempt_state(id, attempt_state(camp, a)?);
        let row = self.contacts.get(&a.contact_id);
        let facts = row.map(|c| self.ledger.contact(contact_facts(c)));
        let result = AttemptResult::Completed(e.event.outcome.clone());
        let settled = settle_attempt(camp, a, state, row, facts.as_ref(), &result, Some(e.event), now)?;
        let Some(mut settled) = settled else { return Ok(EventApplied::Late) };
        settled.settlement.attempt.details.received_at = Some(e.received_at);
        self.ledger.settled(id, e.vendor_id, a.contact_id, &settled.settlement);
        self.settled.push((i, settled));
        Ok(EventApplied::Applied)
    }

    /// The attempt event `i` is for, as the database would show it with the
    /// page's earlier events written: by our reference (of this vendor), else
    /// by a call id the page recorded, else as matched when loading.
    fn attempt_for(&self, i: usize, e: &PageEvent<'_>) -> Option<i64> {
        if let Some(id) = e.event.attempt_ref.as_ref().and_then(|r| self.by_ref.get(r)) {
            return (self.attempts[id].vendor_id == e.vendor_id).then_some(*id);
        }
        let recorded = e.event.external_call_id.as_deref().and_then(|c| self.ledger.attempt_for_call(e.vendor_id, c));
        recorded.or(self.by_call[i])
    }

    /// Write what the page settled: the attempts finished (one statement,
    /// fenced on still in flight), then, for those that were, the contacts
    /// moved and the numbers suppressed; dials and audit rows go to `dials`
    /// (flush before commit). Returns the events that turned out late: their
    /// attempt was finished by someone else after it was loaded.
    pub async fn write<C: ConnectionTrait>(
        self,
        txn: &C,
        now: DateTime<Utc>,
        dials: &mut WriteBuffer,
    ) -> Result<Vec<usize>, StoreError> {
        let updates: Vec<_> = self.settled.iter().map(|(_, s)| (s.attempt_id, &s.settlement.attempt)).collect();
        let finished = finish_attempts(txn, &updates, now).await?;
        let mut late = Vec::new();
        let mut followups = Followups::default();
        for (i, s) in self.settled {
            match finished.contains(&s.attempt_id) {
                true => {
                    // Logged here, once the write finished the attempt, not
                    // when it was decided: a page decided outside the write
                    // turn may be decided again (`ingest::page_apply`).
                    s.log_settled(self.attempts[&s.attempt_id].contact_id);
                    s.confirm(now, &mut followups, dials);
                }
                false => late.push(i),
            }
        }
        followups.write(txn, now).await?;
        Ok(late)
    }
}

/// The attempts events `which` are for, matched past our reference, in one
/// batch: (event index, attempt) for those that match.
async fn match_by_call<C: ConnectionTrait>(
    txn: &C,
    events: &[PageEvent<'_>],
    which: &[usize],
) -> Result<Vec<(usize, attempt::Model)>, StoreError> {
    let asked: Vec<(&str, &CallEvent)> = which.iter().map(|&i| (events[i].vendor_id, events[i].event)).collect();
    let found = find_attempts_by_call(txn, &asked).await?;
    Ok(which.iter().zip(found).filter_map(|(&i, a)| Some((i, a?))).collect())
}

/// The attempts named by `refs` or `ids`, in id order, in one query: on
/// PostgreSQL locked (`FOR UPDATE`) until the transaction ends.
async fn load_attempts<C: ConnectionTrait>(
    txn: &C,
    refs: &[&str],
    ids: &[i64],
) -> Result<Vec<attempt::Model>, StoreError> {
    let mut any = Condition::any();
    for chunk in padded_chunks(refs) {
        any = any.add(attempt::Column::AttemptRef.is_in(chunk));
    }
    for chunk in padded_chunks(ids) {
        any = any.add(attempt::Column::Id.is_in(chunk));
    }
    if any.is_empty() {
        return Ok(Vec::new());
    }
    let q = attempt::Entity::find().filter(any).order_by_asc(attempt::Column::Id);
    Ok(match txn.get_database_backend() {
        DbBackend::Postgres => q.lock_exclusive().all(txn).await?,
        _ => q.all(txn).await?,
    })
}

async fn load_contacts<C: ConnectionTrait>(db: &C, ids: &[i64]) -> Result<HashMap<i64, contact::Model>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in padded_chunks(ids) {
        for c in contact::Entity::find().filter(contact::Column::Id.is_in(chunk)).all(db).await? {
            out.insert(c.id, c);
        }
    }
    Ok(out)
}

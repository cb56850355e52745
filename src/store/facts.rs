//! The facts the contact policy needs for a batch of due contacts, read with a
//! handful of queries per batch (not per contact): active suppressions, calls
//! in flight for the same numbers in any campaign, and the recent dials of
//! each number and case across all campaigns and vendors.

use super::raw_sql::padded;
use super::{IN_FLIGHT_STATES, StoreError};
use crate::domain::compliance::DialRecord;
use crate::domain::compliance::facts::{BatchFacts, conversation};
use chrono::{DateTime, TimeDelta, Utc};
use entity::{attempt, campaign, contact, dial, suppression};
use sea_orm::sea_query::Condition;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};
use std::collections::{HashMap, HashSet};

type DialRow = (String, Option<String>, DateTime<Utc>, String, Option<String>);
type FlightRow = (Option<String>, Option<String>, i64, DateTime<Utc>, i32);

/// Read the facts for `contacts` at `now`; dials older than `lookback`
/// are not read (no cap looks that far back).
pub async fn load<C: ConnectionTrait>(
    db: &C,
    contacts: &[contact::Model],
    lookback: TimeDelta,
    now: DateTime<Utc>,
) -> Result<BatchFacts, StoreError> {
    let mut facts = BatchFacts::default();
    if contacts.is_empty() {
        return Ok(facts);
    }
    // Padded to a power of two (a repeat changes no IN): a handful of
    // statement texts whatever the batch size, so each pooled connection's
    // prepared-statement cache holds a few shapes, not one per size.
    let phones: Vec<&str> = padded(&contacts.iter().map(|c| c.phone.as_str()).collect::<Vec<_>>());
    let cases: Vec<&str> = padded(
        &contacts.iter().filter_map(|c| c.case_id.as_deref()).collect::<HashSet<_>>().into_iter().collect::<Vec<_>>(),
    );
    facts.suppressed = suppression::Entity::find()
        .filter(suppression::Column::Phone.is_in(phones.iter().copied()))
        .filter(
            Condition::any().add(suppression::Column::ExpiresAt.is_null()).add(suppression::Column::ExpiresAt.gt(now)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.phone, s.reason))
        .collect();

    // Calls in flight for these numbers or cases, in any campaign: the
    // number is busy, and each reserves its possible dials against caps.
    let flights: Vec<FlightRow> =
        flights_query(db.get_database_backend(), &phones, &cases).into_tuple().all(db).await?;
    let campaign_ids: HashSet<i64> = flights.iter().map(|f| f.2).collect();
    let names: HashMap<i64, String> = campaign::Entity::find()
        .filter(campaign::Column::Id.is_in(padded(&campaign_ids.into_iter().collect::<Vec<_>>())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    for (phone, case, campaign_id, at, max_dials) in flights {
        let reserved = DialRecord { at, dials: max_dials.max(1) as u32, conversation: false };
        if let Some(phone) = phone {
            let name = names.get(&campaign_id).cloned().unwrap_or_else(|| format!("#{campaign_id}"));
            facts.busy.insert(phone.clone(), name);
            facts.phone_dials.entry(phone).or_default().push(reserved);
        }
        if let Some(case) = case {
            facts.case_dials.entry(case).or_default().push(reserved);
        }
    }

    if lookback <= TimeDelta::zero() {
        return Ok(facts);
    }
    let since = now - lookback;
    let mut recent = Condition::any().add(dial::Column::Phone.is_in(phones.iter().copied()));
    if !cases.is_empty() {
        recent = recent.add(dial::Column::CaseId.is_in(cases.iter().copied()));
    }
    let dials: Vec<DialRow> = dial::Entity::find()
        .select_only()
        .columns([dial::Column::Phone, dial::Column::CaseId, dial::Column::DialedAt])
        .columns([dial::Column::Disposition, dial::Column::Intent])
        .filter(dial::Column::DialedAt.gt(since))
        .filter(recent)
        .into_tuple()
        .all(db)
        .await?;
    let wanted_phones: HashSet<&str> = phones.iter().copied().collect();
    for (phone, case, at, disposition, intent) in dials {
        let record = DialRecord { at, dials: 1, conversation: conversation(&disposition, intent.as_deref()) };
        if wanted_phones.contains(phone.as_str()) {
            facts.phone_dials.entry(phone).or_default().push(record);
        }
        if let Some(case) = case {
            facts.case_dials.entry(case).or_default().push(record);
        }
    }
    Ok(facts)
}

/// The attempts in flight (any campaign) for `phones` or `cases`: phone,
/// case, campaign, created, max dials. Each number and case is sought in
/// `ix_attempts_phone_state` / `ix_attempts_case_state` (see `plan_hints`:
/// SQLite read every call in flight instead, 2.6 → 28 ms per claim over a
/// dispatch of 50,000, docs/benchmarks.md).
pub fn flights_query(backend: DbBackend, phones: &[&str], cases: &[&str]) -> sea_orm::Select<attempt::Entity> {
    let in_flight = super::plan_hints::attempt_state_in(backend, &IN_FLIGHT_STATES);
    let mut by_number_or_case = Condition::any().add(attempt::Column::Phone.is_in(phones.iter().copied()));
    if !cases.is_empty() {
        by_number_or_case = by_number_or_case.add(attempt::Column::CaseId.is_in(cases.iter().copied()));
    }
    attempt::Entity::find()
        .select_only()
        .columns([attempt::Column::Phone, attempt::Column::CaseId, attempt::Column::CampaignId])
        .columns([attempt::Column::CreatedAt, attempt::Column::MaxDials])
        .filter(in_flight)
        .filter(by_number_or_case)
}

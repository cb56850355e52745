//! The call details of contacts' attempts, for `export`: per contact, its
//! latest attempt's recording, transcript and cost, and the total cost of
//! its attempts.

use super::StoreError;
use chrono::{DateTime, Utc};
use entity::attempt::{Column, Entity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;

/// One contact's call details.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContactCallDetails {
    /// Of its latest attempt with a result.
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub cost_micros: Option<i64>,
    pub cost_currency: Option<String>,
    /// Sum of its attempts' costs, when they share one currency (that of
    /// `cost_currency`); None without costs or with several currencies.
    pub total_cost_micros: Option<i64>,
    pub completed_at: Option<DateTime<Utc>>,
}

type Row = (i64, Option<String>, Option<String>, Option<i64>, Option<String>, Option<DateTime<Utc>>);

/// The details of `contact_ids` (one query; contacts without attempts are absent).
pub async fn for_contacts<C: ConnectionTrait>(
    db: &C,
    contact_ids: &[i64],
) -> Result<HashMap<i64, ContactCallDetails>, StoreError> {
    let mut out: HashMap<i64, ContactCallDetails> = HashMap::new();
    if contact_ids.is_empty() {
        return Ok(out);
    }
    let rows: Vec<Row> = Entity::find()
        .select_only()
        .columns([
            Column::ContactId,
            Column::RecordingUrl,
            Column::Transcript,
            Column::CostMicros,
            Column::CostCurrency,
            Column::CompletedAt,
        ])
        .filter(Column::ContactId.is_in(contact_ids.iter().copied()))
        .order_by_asc(Column::ContactId)
        .order_by_asc(Column::AttemptNo)
        .into_tuple()
        .all(db)
        .await?;
    let mut currencies: HashMap<i64, Vec<String>> = HashMap::new();
    for (contact_id, recording_url, transcript, cost_micros, cost_currency, completed_at) in rows {
        let d = out.entry(contact_id).or_default();
        if let (Some(micros), Some(currency)) = (cost_micros, &cost_currency) {
            d.total_cost_micros = Some(d.total_cost_micros.unwrap_or(0).saturating_add(micros));
            currencies.entry(contact_id).or_default().push(currency.clone());
        }
        // Attempts in order: a later one with a result replaces what an
        // earlier one left.
        if completed_at.is_some() {
            *d = ContactCallDetails {
                recording_url,
                transcript,
                cost_micros,
                cost_currency,
                total_cost_micros: d.total_cost_micros,
                completed_at,
            };
        }
    }
    for (contact_id, list) in currencies {
        let d = out.get_mut(&contact_id).expect("a contact with a cost has details");
        let one = list.iter().all(|c| *c == list[0]);
        if !one || d.cost_currency.as_ref().is_some_and(|c| *c != list[0]) {
            d.total_cost_micros = None;
        } else if d.cost_currency.is_none() {
            d.cost_currency = Some(list[0].clone());
        }
    }
    Ok(out)
}

//! Campaign status summaries, shared by `campaignd status` and the admin API.

use super::{StoreError, campaigns, contacts};
use entity::{attempt, campaign};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CampaignStatus {
    pub name: String,
    /// `draft`, `scheduled`, `running`, `paused`, `completed` or `cancelled`.
    pub state: String,
    /// Contacts by state (only states that have contacts).
    pub contacts: BTreeMap<String, i64>,
    pub total_contacts: i64,
    pub attempts_in_flight: u64,
    pub attempts_total: u64,
}

pub async fn status<C: ConnectionTrait>(db: &C, row: &campaign::Model) -> Result<CampaignStatus, StoreError> {
    let counts: BTreeMap<String, i64> = contacts::state_counts(db, row.id).await?.into_iter().collect();
    let in_flight = attempt::Entity::find()
        .filter(attempt::Column::CampaignId.eq(row.id))
        .filter(attempt::Column::State.is_in(crate::store::IN_FLIGHT_STATES))
        .count(db)
        .await?;
    let total = attempt::Entity::find().filter(attempt::Column::CampaignId.eq(row.id)).count(db).await?;
    Ok(CampaignStatus {
        name: row.name.clone(),
        state: row.state.clone(),
        total_contacts: counts.values().sum(),
        contacts: counts,
        attempts_in_flight: in_flight,
        attempts_total: total,
    })
}

/// Status of one campaign by name, or of all of them.
pub async fn statuses<C: ConnectionTrait>(db: &C, name: Option<&str>) -> Result<Vec<CampaignStatus>, StoreError> {
    let rows = match name {
        Some(n) => vec![campaigns::find_by_name(db, n).await?],
        None => campaign::Entity::find().order_by_asc(campaign::Column::Name).all(db).await?,
    };
    let mut out = Vec::new();
    for row in &rows {
        out.push(status(db, row).await?);
    }
    Ok(out)
}

impl std::fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}  contacts={}", self.name, self.state, self.total_contacts)?;
        for (state, n) in &self.contacts {
            write!(f, " {state}={n}")?;
        }
        write!(f, "  attempts={} in_flight={}", self.attempts_total, self.attempts_in_flight)
    }
}

/// Attempts in flight per vendor (all campaigns).
pub async fn in_flight_by_vendor<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, u64>, StoreError> {
    use sea_orm::QuerySelect;
    let rows: Vec<(String, i64)> = attempt::Entity::find()
        .select_only()
        .column(attempt::Column::VendorId)
        .column_as(attempt::Column::Id.count(), "n")
        .filter(attempt::Column::State.is_in(crate::store::IN_FLIGHT_STATES))
        .group_by(attempt::Column::VendorId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(v, n)| (v, n.max(0) as u64)).collect())
}

//! Campaign definitions as the admin API sees them: a row read back as the
//! definition an admin wrote, and the create / replace / delete of campaigns
//! the API owns (`config_hash` null). Each write runs under the definitions
//! lock with its checks, so it never interleaves with a config sync or with
//! another admin's write. The state is never written here.

use super::StoreError;
use super::campaigns::{DEFINITIONS_LOCK, find_by_name, new_row, parse_vendor_routes, set_definition};
use crate::config::CampaignSettings;
use crate::config::campaign_definition::{CampaignDefinition, fingerprint};
use crate::config::raw::{RawRecall, RawVendorRoute};
use chrono::{DateTime, SecondsFormat, Utc};
use entity::{campaign, contact};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DbErr, EntityTrait, ModelTrait, PaginatorTrait, QueryFilter, QuerySelect, Set,
};

/// Who may change a campaign's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Written by config.toml (its `config_hash` is set): edited there only.
    Config,
    /// Created through the admin API: edited there.
    Api,
}

/// A campaign's stored definition with what an editor needs beside it.
#[derive(Debug, Clone)]
pub struct StoredDefinition {
    pub definition: CampaignDefinition,
    pub owner: Owner,
    pub state: String,
    /// [`fingerprint`] of the definition: changes whenever the definition does.
    pub etag: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a campaign named `{0}` already exists")]
    Exists(String),
    #[error(
        "campaign `{0}` is owned by config.toml: edit it there and reload the daemon (SIGHUP); \
         through the API it is read-only except for pause, resume and cancel"
    )]
    ConfigOwned(String),
    #[error(
        "campaign `{name}` changed since it was read (its ETag is now {current}): read it again and reapply the change"
    )]
    Stale { name: String, current: String },
    #[error(
        "campaign `{name}` has {contacts} contact(s) and is kept for their history; \
         to stop it for good, cancel it (POST /api/v1/campaigns/{name}/cancel)"
    )]
    HasHistory { name: String, contacts: u64 },
}

impl From<DbErr> for DefinitionError {
    fn from(e: DbErr) -> Self {
        DefinitionError::Store(e.into())
    }
}

/// The definition a row holds, in the shape an admin writes it.
pub fn stored_definition(row: &campaign::Model) -> Result<StoredDefinition, StoreError> {
    let bad = |message: String| StoreError::BadCampaign { name: row.name.clone(), message };
    let list = |text: &str| text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    let instant = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    let vendors = parse_vendor_routes(&row.vendors)
        .map_err(|e| bad(format!("vendors: {e}")))?
        .into_iter()
        .map(|(id, weight)| if weight == 1 { RawVendorRoute::Id(id) } else { RawVendorRoute::Weighted { id, weight } })
        .collect();
    let recall: RawRecall =
        serde_json::from_value(row.recall_policy.clone()).map_err(|e| bad(format!("recall_policy: {e}")))?;
    let max_concurrency =
        u32::try_from(row.max_concurrency).map_err(|_| bad("max_concurrency must be at least 1".into()))?;
    let definition = CampaignDefinition {
        name: row.name.clone(),
        timezone: row.timezone.clone(),
        windows: row.windows.clone(),
        blackout_dates: list(&row.blackout_dates),
        starts_at: instant(row.starts_at),
        ends_at: instant(row.ends_at),
        max_concurrency: Some(max_concurrency),
        vendors,
        default_country_code: row.default_country_code.clone(),
        recall: Some(recall),
        redial_strategy: Some(row.redial_strategy.clone()),
        vendor_redial: Some(row.vendor_redial),
        profiles: list(&row.profiles),
        caps: list(&row.caps),
    };
    Ok(StoredDefinition {
        etag: fingerprint(&definition),
        definition,
        owner: if row.config_hash.is_some() { Owner::Config } else { Owner::Api },
        state: row.state.clone(),
        updated_at: row.updated_at,
    })
}

/// Campaign `name`'s definition.
pub async fn read(db: &super::Db, name: &str) -> Result<StoredDefinition, StoreError> {
    stored_definition(&find_by_name(db, name).await?)
}

/// Insert a campaign the API owns, `scheduled` like a new config campaign.
pub async fn create(
    db: &super::Db,
    c: &CampaignSettings,
    now: DateTime<Utc>,
) -> Result<StoredDefinition, DefinitionError> {
    let txn = super::db::begin_write(db, super::db::Writer::Other).await?;
    super::db::advisory_xact_lock(&txn, DEFINITIONS_LOCK).await?;
    if campaign::Entity::find().filter(campaign::Column::Name.eq(&c.name)).one(&txn).await?.is_some() {
        return Err(DefinitionError::Exists(c.name.clone()));
    }
    let row = new_row(c, None, now).insert(&txn).await?;
    txn.commit().await?;
    Ok(stored_definition(&row)?)
}

/// Replace the definition of API-owned campaign `c.name`, if `precondition`
/// accepts the ETag of the definition it replaces (an `If-Match` check).
pub async fn replace(
    db: &super::Db,
    c: &CampaignSettings,
    precondition: impl FnOnce(&str) -> bool,
    now: DateTime<Utc>,
) -> Result<StoredDefinition, DefinitionError> {
    let txn = super::db::begin_write(db, super::db::Writer::Other).await?;
    super::db::advisory_xact_lock(&txn, DEFINITIONS_LOCK).await?;
    let row = find_by_name(&txn, &c.name).await?;
    let current = stored_definition(&row)?;
    if current.owner == Owner::Config {
        return Err(DefinitionError::ConfigOwned(c.name.clone()));
    }
    if !precondition(&current.etag) {
        return Err(DefinitionError::Stale { name: c.name.clone(), current: current.etag });
    }
    let mut am: campaign::ActiveModel = row.into();
    set_definition(&mut am, c);
    am.updated_at = Set(now);
    let row = am.update(&txn).await?;
    txn.commit().await?;
    Ok(stored_definition(&row)?)
}

/// Delete API-owned campaign `name` if it never had a contact: a campaign
/// with contacts keeps its row for their history (reports, export).
pub async fn delete(db: &super::Db, name: &str) -> Result<(), DefinitionError> {
    let txn = super::db::begin_write(db, super::db::Writer::Other).await?;
    super::db::advisory_xact_lock(&txn, DEFINITIONS_LOCK).await?;
    // The row lock waits for an import inserting into this campaign to
    // commit (PostgreSQL; SQLite has one writer), so the count below sees its
    // contacts and the cascade never deletes them.
    let row = campaign::Entity::find()
        .filter(campaign::Column::Name.eq(name))
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or_else(|| StoreError::NoSuchCampaign(name.to_string()))?;
    if row.config_hash.is_some() {
        return Err(DefinitionError::ConfigOwned(name.to_string()));
    }
    let contacts = contact::Entity::find().filter(contact::Column::CampaignId.eq(row.id)).count(&txn).await?;
    if contacts > 0 {
        return Err(DefinitionError::HasHistory { name: name.to_string(), contacts });
    }
    row.delete(&txn).await?;
    txn.commit().await?;
    Ok(())
}

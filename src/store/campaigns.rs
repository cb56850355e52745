//! Campaign rows: config sync, parsing into a [`Campaign`], state changes.

use super::StoreError;
use crate::config::{CampaignSettings, RecallConfig, validate::recall_policy};
use crate::domain::campaign::Campaign;
use crate::domain::compliance::caps::{parse_rules, rules_text};
use crate::domain::compliance::profiles::parse_profiles;
use crate::domain::compliance::{ComplianceSettings, ContactPolicy};
use crate::domain::routing::RedialStrategy;
use crate::domain::state::{CampaignEvent, CampaignState};
use crate::domain::window::{CallingWindows, parse_tz};
use chrono::{DateTime, NaiveDate, Utc};
use entity::campaign;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Set,
    sea_query::Expr,
};
use sha2::{Digest, Sha256};

/// Parse a row; an error names the column an admin got wrong.
/// `compliance` holds the deployment-wide caps, margin and holidays.
pub fn parse(row: &campaign::Model, compliance: &ComplianceSettings) -> Result<Campaign, StoreError> {
    let bad = |message: String| StoreError::BadCampaign { name: row.name.clone(), message };
    let state: CampaignState = row.state.parse().map_err(|e| bad(format!("state: {e}")))?;
    let timezone = parse_tz(&row.timezone).map_err(|e| bad(format!("timezone: {e}")))?;
    let mut blackouts = Vec::new();
    for d in row.blackout_dates.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        blackouts.push(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| bad(format!("blackout_dates: `{d}` is not YYYY-MM-DD")))?,
        );
    }
    let windows =
        CallingWindows::parse(&row.windows).map_err(|e| bad(format!("windows: {e}")))?.with_blackout_dates(blackouts);
    let vendors = parse_vendor_routes(&row.vendors).map_err(|e| bad(format!("vendors: {e}")))?;
    let recall: RecallConfig =
        serde_json::from_value(row.recall_policy.clone()).map_err(|e| bad(format!("recall_policy: {e}")))?;
    let policy = recall_policy(&recall).map_err(|errs| {
        bad(format!("recall_policy: {}", errs.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")))
    })?;
    let redial_strategy: RedialStrategy = row
        .redial_strategy
        .parse()
        .map_err(|_| bad(format!("redial_strategy: `{}` is not one of same, rotate, failover", row.redial_strategy)))?;
    if row.max_concurrency < 1 {
        return Err(bad("max_concurrency must be at least 1".into()));
    }
    let profiles = parse_profiles(&row.profiles).map_err(|e| bad(format!("profiles: {e}")))?;
    let caps = parse_rules(&row.caps).map_err(|e| bad(format!("caps: {e}")))?;
    let contact_policy = ContactPolicy::new(windows.clone(), &profiles, &caps, compliance);
    Ok(Campaign {
        id: row.id,
        name: row.name.clone(),
        state,
        timezone,
        windows,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        max_concurrency: row.max_concurrency as u32,
        vendors,
        policy,
        default_country_code: row.default_country_code.clone(),
        redial_strategy,
        vendor_redial: row.vendor_redial,
        contact_policy,
        forward: compliance.forwarding.events_for(&row.name),
    })
}

/// `"sim-a:3, sim-b"` → `[("sim-a", 3), ("sim-b", 1)]`.
pub fn parse_vendor_routes(text: &str) -> Result<Vec<(String, u32)>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, weight) = match part.split_once(':') {
            Some((id, w)) => (id.trim(), w.trim().parse::<u32>().map_err(|_| format!("bad weight in `{part}`"))?),
            None => (part, 1),
        };
        if weight == 0 {
            return Err(format!("weight 0 in `{part}`"));
        }
        out.push((id.to_string(), weight));
    }
    if out.is_empty() {
        return Err("no vendor listed".into());
    }
    Ok(out)
}

fn routes_text(vendors: &[(String, u32)]) -> String {
    vendors.iter().map(|(id, w)| format!("{id}:{w}")).collect::<Vec<_>>().join(",")
}

fn profiles_text(c: &CampaignSettings) -> String {
    c.profiles.iter().map(|p| p.name).collect::<Vec<_>>().join(",")
}

fn definition_hash(c: &CampaignSettings) -> String {
    let text = format!(
        "{}|{}|{}|{:?}|{:?}|{:?}|{}|{}|{:?}|{}|{}|{}|{}|{}",
        c.name,
        c.timezone,
        c.windows_spec,
        c.blackout_dates,
        c.starts_at,
        c.ends_at,
        c.max_concurrency,
        routes_text(&c.vendors),
        c.default_country_code,
        serde_json::to_string(&c.recall).unwrap_or_default(),
        c.redial_strategy,
        c.vendor_redial,
        profiles_text(c),
        rules_text(&c.caps)
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Write `c`'s definition into a row's columns; the state and the owner
/// (`config_hash`) are left alone.
pub(super) fn set_definition(am: &mut campaign::ActiveModel, c: &CampaignSettings) {
    am.timezone = Set(c.timezone.to_string());
    am.windows = Set(c.windows_spec.clone());
    am.blackout_dates = Set(c.blackout_dates.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","));
    am.starts_at = Set(c.starts_at);
    am.ends_at = Set(c.ends_at);
    am.max_concurrency = Set(c.max_concurrency as i32);
    am.vendors = Set(routes_text(&c.vendors));
    am.recall_policy = Set(serde_json::to_value(&c.recall).unwrap_or(serde_json::Value::Null));
    am.default_country_code = Set(c.default_country_code.clone());
    am.redial_strategy = Set(c.redial_strategy.as_str().to_string());
    am.vendor_redial = Set(c.vendor_redial);
    am.profiles = Set(profiles_text(c));
    am.caps = Set(rules_text(&c.caps));
}

/// A new campaign row, `scheduled` (the scheduler starts it at `starts_at`);
/// `config_hash` is `None` for a campaign the admin API owns.
pub(super) fn new_row(c: &CampaignSettings, config_hash: Option<String>, now: DateTime<Utc>) -> campaign::ActiveModel {
    let mut am = campaign::ActiveModel {
        name: Set(c.name.clone()),
        state: Set(CampaignState::Scheduled.as_str().to_string()),
        config_hash: Set(config_hash),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    set_definition(&mut am, c);
    am
}

/// Taken by every writer of campaign definitions (config sync, the admin
/// API), so a read-check-write of one never interleaves with another's.
pub(super) const DEFINITIONS_LOCK: &str = "campaignd:config-sync";

/// Insert config campaigns that are new; update the definition of those whose
/// config changed since the last sync. Database edits to a campaign survive
/// restarts until its config entry changes. The state is never touched here.
pub async fn sync_from_config(
    db: &DatabaseConnection,
    campaigns: &[CampaignSettings],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    // Several instances may start at once: they take turns (advisory lock on
    // PostgreSQL, the write lock on SQLite), so a campaign is created once.
    let txn = super::db::begin_write(db, super::db::Writer::Other).await?;
    super::db::advisory_xact_lock(&txn, DEFINITIONS_LOCK).await?;
    sync_in(&txn, campaigns, now).await?;
    txn.commit().await?;
    Ok(())
}

async fn sync_in<C: ConnectionTrait>(
    db: &C,
    campaigns: &[CampaignSettings],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for c in campaigns {
        let hash = definition_hash(c);
        let existing = campaign::Entity::find().filter(campaign::Column::Name.eq(&c.name)).one(db).await?;
        match existing {
            Some(row) if row.config_hash.as_deref() == Some(hash.as_str()) => {}
            Some(row) => {
                tracing::info!(campaign = %c.name, "config changed: updating campaign definition");
                let mut am: campaign::ActiveModel = row.into();
                set_definition(&mut am, c);
                am.config_hash = Set(Some(hash));
                am.updated_at = Set(now);
                am.update(db).await?;
            }
            None => {
                new_row(c, Some(hash), now).insert(db).await?;
            }
        }
    }
    Ok(())
}

/// Load and parse campaign `id` through `db`. Inside a write transaction
/// pass the transaction: asking the pool for a second connection while
/// holding the SQLite write lock can deadlock against connections waiting
/// for that lock.
pub async fn load<C: ConnectionTrait>(
    db: &C,
    id: i64,
    compliance: &ComplianceSettings,
) -> Result<Campaign, StoreError> {
    let row =
        campaign::Entity::find_by_id(id).one(db).await?.ok_or_else(|| StoreError::NoSuchCampaign(format!("#{id}")))?;
    parse(&row, compliance)
}

/// The names of campaigns `ids` (those that exist).
pub async fn names<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<std::collections::HashMap<i64, String>, StoreError> {
    let ids: std::collections::BTreeSet<i64> = ids.into_iter().collect();
    let rows: Vec<(i64, String)> = campaign::Entity::find()
        .select_only()
        .column(campaign::Column::Id)
        .column(campaign::Column::Name)
        .filter(campaign::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().collect())
}

pub async fn find_by_name<C: ConnectionTrait>(db: &C, name: &str) -> Result<campaign::Model, StoreError> {
    campaign::Entity::find()
        .filter(campaign::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::NoSuchCampaign(name.to_string()))
}

/// Campaigns the scheduler looks at: scheduled, running, paused or cancelled-
/// but-not-yet-swept. Completed ones are left alone.
pub async fn load_active<C: ConnectionTrait>(db: &C) -> Result<Vec<campaign::Model>, StoreError> {
    Ok(campaign::Entity::find()
        .filter(
            campaign::Column::State.is_in(
                [CampaignState::Scheduled, CampaignState::Running, CampaignState::Paused, CampaignState::Cancelled]
                    .map(CampaignState::as_str),
            ),
        )
        .all(db)
        .await?)
}

/// Apply a state event through the domain state machine; the update is fenced
/// on the state read, so a concurrent change is not overwritten.
pub async fn transition<C: ConnectionTrait>(
    db: &C,
    name: &str,
    event: CampaignEvent,
    now: DateTime<Utc>,
) -> Result<(CampaignState, CampaignState), StoreError> {
    let row = find_by_name(db, name).await?;
    let from: CampaignState =
        row.state.parse().map_err(|e| StoreError::BadCampaign { name: name.into(), message: format!("state: {e}") })?;
    let to = from.apply(event)?;
    set_state_fenced(db, row.id, from, to, now).await?;
    Ok((from, to))
}

/// `UPDATE … SET state = to WHERE id = ? AND state = from`; returns whether it applied.
pub async fn set_state_fenced<C: ConnectionTrait>(
    db: &C,
    id: i64,
    from: CampaignState,
    to: CampaignState,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let res = campaign::Entity::update_many()
        .col_expr(campaign::Column::State, Expr::value(to.as_str()))
        .col_expr(campaign::Column::UpdatedAt, Expr::value(now))
        .filter(campaign::Column::Id.eq(id))
        .filter(campaign::Column::State.eq(from.as_str()))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

//! Contact rows: status counts, export, stop (the import's insert is in `import_rows`).

use super::StoreError;
use super::decisions::{ALL_ZONES, DecisionBuffer, Subject, kind};
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use entity::contact;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Statement};

/// One parsed CSV row, ready to insert.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub phone: String,
    pub case_id: Option<String>,
    /// The operator's zone(s) as given, canonical names.
    pub timezone: Option<String>,
    /// `zones_key` of the inferred candidate zones; `None` = the campaign's zone.
    pub zones: Option<String>,
    /// How `zones` was inferred (`ZoneSource::as_str`).
    pub zone_source: Option<String>,
    pub variables: serde_json::Value,
}

/// Contact `id`, if it exists.
pub async fn find<C: ConnectionTrait>(db: &C, id: i64) -> Result<Option<contact::Model>, StoreError> {
    Ok(contact::Entity::find_by_id(id).one(db).await?)
}

/// How many of `phones` the campaign does not have yet (an import into a
/// finished campaign counts what it refuses instead of inserting it).
pub async fn count_new<C: ConnectionTrait>(db: &C, campaign_id: i64, phones: &[String]) -> Result<u64, StoreError> {
    if phones.is_empty() {
        return Ok(0);
    }
    let known = contact::Entity::find()
        .select_only()
        .column(contact::Column::Phone)
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::Phone.is_in(phones.iter().cloned()))
        .into_tuple::<String>()
        .all(db)
        .await?
        .len();
    Ok((phones.len() - known) as u64)
}

/// `(state, count)` for a campaign's contacts.
pub async fn state_counts<C: ConnectionTrait>(db: &C, campaign_id: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT state, COUNT(*) AS n FROM contacts WHERE campaign_id = $1 GROUP BY state ORDER BY state",
            [campaign_id.into()],
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        out.push((row.try_get::<String>("", "state")?, row.try_get::<i64>("", "n")?));
    }
    Ok(out)
}

/// Whether any contact of the campaign is not terminal yet: one index probe
/// (`ix_contacts_campaign_state`), where [`open_count`] reads every open
/// contact's index entry (80 ms at a million on SQLite). The scheduler asks
/// this on every tick that claims nothing, all night long while a window
/// is closed.
pub async fn any_open<C: ConnectionTrait>(db: &C, campaign_id: i64) -> Result<bool, StoreError> {
    let sql = format!("SELECT 1 AS one FROM {OPEN_CONTACTS} LIMIT 1");
    let row =
        db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, [campaign_id.into()])).await?;
    Ok(row.is_some())
}

/// The campaign's (`$1`) contacts that are not terminal yet, as a `FROM`
/// clause: [`any_open`] and [`open_count`] ask the same question.
const OPEN_CONTACTS: &str = "contacts WHERE campaign_id = $1 AND state IN ('pending', 'in_flight', 'waiting_retry')";

/// Contacts that are not terminal yet.
pub async fn open_count<C: ConnectionTrait>(db: &C, campaign_id: i64) -> Result<i64, StoreError> {
    let sql = format!("SELECT COUNT(*) AS n FROM {OPEN_CONTACTS}");
    let row =
        db.query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, [campaign_id.into()])).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// A page of contacts by id, for export without loading everything at once.
pub async fn page<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    after_id: i64,
    limit: u64,
) -> Result<Vec<contact::Model>, StoreError> {
    Ok(contact::Entity::find()
        .filter(contact::Column::CampaignId.eq(campaign_id))
        .filter(contact::Column::Id.gt(after_id))
        .order_by_asc(contact::Column::Id)
        .limit(limit)
        .all(db)
        .await?)
}

/// The UPDATE that stops contacts of a campaign (state, no due time, the
/// reason); callers add which contacts. Shared by a campaign's cancel and a
/// contact refresh's removals.
pub(super) fn stop_update(campaign_id: i64, reason: &str, now: DateTime<Utc>) -> sea_orm::UpdateMany<contact::Entity> {
    use sea_orm::sea_query::Expr;
    contact::Entity::update_many()
        .col_expr(contact::Column::State, Expr::value(ContactState::Stopped.as_str()))
        .col_expr(contact::Column::DueAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(contact::Column::FinishedReason, Expr::value(reason))
        .col_expr(contact::Column::UpdatedAt, Expr::value(now))
        .filter(contact::Column::CampaignId.eq(campaign_id))
}

/// Stop every not-yet-dialing contact of a campaign (cancel). In-flight ones
/// stop when their result arrives.
pub async fn stop_open<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let res = stop_update(campaign_id, reason, now)
        .filter(
            contact::Column::State.is_in([ContactState::Pending, ContactState::WaitingRetry].map(ContactState::as_str)),
        )
        .exec(db)
        .await?;
    if res.rows_affected > 0 {
        let mut audit = DecisionBuffer::default();
        let subject = Subject::ZoneGroup { zones: ALL_ZONES, count: res.rows_affected };
        audit.record(campaign_id, subject, kind::STOPPED, reason, None, now);
        audit.flush(db).await?;
    }
    Ok(res.rows_affected)
}

//! The counts behind the vendor scorecard: one grouped query per table
//! (attempts, dials) over the attempts created in a period, whatever its
//! size, and the call figures (ring times and lags per completed attempt,
//! costs and reached contacts grouped). What they mean is decided in `domain::vendor_scorecard`.

use super::StoreError;
use super::raw_sql::Sql;
use crate::domain::outcome::Disposition;
use crate::domain::scorecard_calls::{CallFigures, CallTiming, CostGroup};
use crate::domain::state::AttemptState;
use crate::domain::vendor_scorecard::ScorecardGroup;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// Attempts created in [`from`, `to`) grouped by vendor, state, disposition,
/// intent and raw code, with their talk time summed.
pub async fn attempt_groups<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ScorecardGroup>, StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    // SUM of a BIGINT is NUMERIC on PostgreSQL: cast back to read it as i64.
    sql.push(
        "SELECT vendor_id, state, disposition, intent, raw_code, COUNT(*) AS n, \
         CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) AS duration_ms_sum, \
         COUNT(duration_ms) AS with_duration FROM attempts WHERE created_at >= ",
    )
    .bind(from)
    .push(" AND created_at < ")
    .bind(to)
    .push(" GROUP BY vendor_id, state, disposition, intent, raw_code");
    let mut groups = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        groups.push(ScorecardGroup {
            vendor_id: row.try_get("", "vendor_id")?,
            state: row.try_get("", "state")?,
            disposition: row.try_get("", "disposition")?,
            intent: row.try_get("", "intent")?,
            raw_code: row.try_get("", "raw_code")?,
            count: row.try_get::<i64>("", "n")?.max(0) as u64,
            duration_ms_sum: row.try_get("", "duration_ms_sum")?,
            with_duration: row.try_get::<i64>("", "with_duration")?.max(0) as u64,
        });
    }
    Ok(groups)
}

/// Real dials (the vendors' own redials included) of the attempts created
/// in [`from`, `to`), by vendor: counted by their attempt's creation, so
/// they are the dials of the same attempts the other counts are of.
pub async fn dials_by_vendor<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "SELECT d.vendor_id AS vendor_id, COUNT(*) AS n FROM dials d \
         JOIN attempts a ON a.id = d.attempt_id WHERE a.created_at >= ",
    )
    .bind(from)
    .push(" AND a.created_at < ")
    .bind(to)
    .push(" GROUP BY d.vendor_id");
    let mut dials = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        dials.push((row.try_get("", "vendor_id")?, row.try_get::<i64>("", "n")?.max(0) as u64));
    }
    Ok(dials)
}

/// What the call figures need (`domain::scorecard_calls`) over the attempts
/// created in [`from`, `to`): the completed attempts' ring times, vendor end
/// and receipt times (one row each: percentiles need the values), their
/// costs summed by vendor and currency, and the contacts reached by vendor.
pub async fn call_figures<C: ConnectionTrait>(
    db: &C,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<CallFigures, StoreError> {
    use entity::attempt::{Column, Entity};
    use sea_orm::sea_query::Condition;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
    let completed = AttemptState::Completed.as_str();
    // Through SeaORM: it reads timestamps back the way it wrote them on
    // either backend.
    type TimingRow = (String, Option<String>, Option<i64>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
    let rows: Vec<TimingRow> = Entity::find()
        .select_only()
        .columns([Column::VendorId, Column::Disposition, Column::RingMs, Column::VendorEndedAt, Column::ReceivedAt])
        .filter(Column::CreatedAt.gte(from))
        .filter(Column::CreatedAt.lt(to))
        .filter(Column::State.eq(completed))
        .filter(Condition::any().add(Column::RingMs.is_not_null()).add(Column::VendorEndedAt.is_not_null()))
        .into_tuple()
        .all(db)
        .await?;
    let timings = rows
        .into_iter()
        .map(|(vendor_id, disposition, ring_ms, vendor_ended_at, received_at)| CallTiming {
            vendor_id,
            disposition,
            ring_ms,
            vendor_ended_at,
            received_at,
        })
        .collect();

    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "SELECT vendor_id, cost_currency, CAST(SUM(cost_micros) AS BIGINT) AS micros, COUNT(*) AS n \
         FROM attempts WHERE cost_micros IS NOT NULL AND cost_currency IS NOT NULL AND created_at >= ",
    )
    .bind(from)
    .push(" AND created_at < ")
    .bind(to)
    .push(" GROUP BY vendor_id, cost_currency");
    let mut costs = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        costs.push(CostGroup {
            vendor_id: row.try_get("", "vendor_id")?,
            currency: row.try_get("", "cost_currency")?,
            micros: row.try_get("", "micros")?,
            attempts: row.try_get::<i64>("", "n")?.max(0) as u64,
        });
    }

    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT vendor_id, COUNT(DISTINCT contact_id) AS n FROM attempts WHERE state = ")
        .bind(completed)
        .push(" AND disposition = ")
        .bind(Disposition::Answered.as_str())
        .push(" AND created_at >= ")
        .bind(from)
        .push(" AND created_at < ")
        .bind(to)
        .push(" GROUP BY vendor_id");
    let mut reached = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        reached.push((row.try_get("", "vendor_id")?, row.try_get::<i64>("", "n")?.max(0) as u64));
    }
    Ok(CallFigures { timings, costs, reached })
}

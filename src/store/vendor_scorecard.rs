//! The counts behind the vendor scorecard: one grouped query per table
//! (attempts, dials) over the attempts created in a period, whatever its
//! size. What they mean is decided in `domain::vendor_scorecard`.

use super::StoreError;
use super::raw_sql::Sql;
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

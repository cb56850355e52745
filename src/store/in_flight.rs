//! Counting the attempts in flight, for a claim's capacity and the gauges:
//! a campaign's own, and each of its routed vendors' in every campaign.

use super::raw_sql::{Sql, padded};
use super::{IN_FLIGHT_STATES, StoreError};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::collections::HashMap;

/// Attempts in flight in this campaign, and per routed vendor (in every
/// campaign): one statement, whatever the number of vendors.
///
/// WHY two counts on SQLite and one pass on PostgreSQL: on SQLite each half
/// is answered from its own index alone (`ix_attempts_campaign_state`,
/// `ix_attempts_vendor_state`), where grouping by both columns read every
/// in-flight attempt's table row, thousands per claim when caps are high.
/// PostgreSQL reads every in-flight attempt's row either way (rows that
/// change this often are never all-visible, so no count is index-only), and
/// two counts read the campaign's attempts at its routed vendors twice; one
/// pass over the attempts of the campaign or of those vendors reads each once
/// (0.68× the time with 50,000 in flight, docs/benchmarks.md).
pub(super) async fn count<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    vendor_ids: &[&str],
) -> Result<(u64, HashMap<String, u64>), StoreError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres if !vendor_ids.is_empty() => in_flight_one_pass(campaign_id, vendor_ids),
        _ => in_flight_two_counts(backend, campaign_id, vendor_ids),
    };
    let mut campaign_used = 0;
    let mut vendor_used: HashMap<String, u64> = vendor_ids.iter().map(|id| (id.to_string(), 0)).collect();
    for row in db.query_all_raw(sql).await? {
        let column =
            |name: &str| -> Result<u64, StoreError> { Ok(u64::try_from(row.try_get::<i64>("", name)?).unwrap_or(0)) };
        // `mine`: this campaign's part of the row's count (the whole of it
        // in the two counts' campaign row, which has no vendor).
        campaign_used += column("mine")?;
        if let Some(vendor) = row.try_get::<Option<String>>("", "vendor_id")? {
            // One pass also groups this campaign's attempts at vendors it no
            // longer routes to: counted for the campaign above, not here.
            if let Some(used) = vendor_used.get_mut(&vendor) {
                *used = column("n")?;
            }
        }
    }
    Ok((campaign_used, vendor_used))
}

/// ` AND state IN (…in flight…)`.
fn in_flight_states(sql: &mut Sql) {
    sql.push(" AND state IN ").bind_list(&IN_FLIGHT_STATES);
}

/// ` (id, id, …)`: the vendors, padded to a fixed number of parameters.
fn vendor_list(sql: &mut Sql, vendor_ids: &[&str]) {
    sql.push(" ").bind_list(&padded(vendor_ids));
}

/// The campaign's count, then one count per routed vendor (SQLite: each
/// from its index alone). Columns: `vendor_id` (NULL for the campaign's
/// row), `mine` (the campaign's count, 0 in the vendors' rows), `n`.
fn in_flight_two_counts(backend: DbBackend, campaign_id: i64, vendor_ids: &[&str]) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT CAST(NULL AS TEXT) AS vendor_id, COUNT(*) AS mine, CAST(0 AS BIGINT) AS n FROM attempts WHERE campaign_id = ")
        .bind(campaign_id);
    in_flight_states(&mut sql);
    if !vendor_ids.is_empty() {
        sql.push(
            " UNION ALL SELECT vendor_id, CAST(0 AS BIGINT) AS mine, COUNT(*) AS n FROM attempts WHERE vendor_id IN",
        );
        vendor_list(&mut sql, vendor_ids);
        in_flight_states(&mut sql);
        sql.push(" GROUP BY vendor_id");
    }
    sql.build()
}

/// One pass over the in-flight attempts of the campaign or at its routed
/// vendors, grouped by vendor: `mine` counts the campaign's, `n` all.
fn in_flight_one_pass(campaign_id: i64, vendor_ids: &[&str]) -> Statement {
    let mut sql = Sql::new(DbBackend::Postgres);
    sql.push("SELECT vendor_id, COUNT(*) FILTER (WHERE campaign_id = ")
        .bind(campaign_id)
        .push(") AS mine, COUNT(*) AS n FROM attempts WHERE (campaign_id = ")
        .bind(campaign_id)
        .push(" OR vendor_id IN");
    vendor_list(&mut sql, vendor_ids);
    sql.push(")");
    in_flight_states(&mut sql);
    sql.push(" GROUP BY vendor_id");
    sql.build()
}

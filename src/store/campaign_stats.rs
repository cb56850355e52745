//! The counts behind a campaign's statistics: one grouped query per table
//! (contacts, attempts), whatever the campaign's size. What they mean is
//! decided in `domain::campaign_stats` and `domain::campaign_eta`.

use super::StoreError;
use super::raw_sql::Sql;
use crate::domain::campaign_eta::OpenWork;
use crate::domain::campaign_stats::AttemptGroup;
use crate::domain::state::ContactState;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

/// Contacts by state, and the attempts the open ones may still take.
pub struct ContactTally {
    pub by_state: Vec<(String, u64)>,
    pub open_work: OpenWork,
}

/// Contacts of `campaign_id` by state, with the attempts each state's
/// contacts have left under `max_attempts` (the in-flight one counted as
/// left: it has not finished).
pub async fn contact_tally<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    max_attempts: u32,
) -> Result<ContactTally, StoreError> {
    let max = i64::from(max_attempts);
    let in_flight = ContactState::InFlight.as_str();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT state, COUNT(*) AS n, CAST(COALESCE(SUM(CASE WHEN attempt_seq < ")
        .bind(max)
        .push(" THEN ")
        .bind(max)
        .push(" - attempt_seq ELSE 0 END + CASE WHEN state = ")
        .bind(in_flight)
        .push(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS attempts_left FROM contacts WHERE campaign_id = ")
        .bind(campaign_id)
        .push(" GROUP BY state");
    let mut by_state = Vec::new();
    let mut open_work = OpenWork { min: 0, max: 0 };
    for row in db.query_all_raw(sql.build()).await? {
        let state: String = row.try_get("", "state")?;
        let n = row.try_get::<i64>("", "n")?.max(0) as u64;
        if state.parse::<ContactState>().is_ok_and(|s| !s.is_terminal()) {
            open_work.min += n;
            open_work.max += row.try_get::<i64>("", "attempts_left")?.max(0) as u64;
        }
        by_state.push((state, n));
    }
    // A contact that used every attempt but is still open (in flight on its
    // last one) still needs one.
    open_work.max = open_work.max.max(open_work.min);
    Ok(ContactTally { by_state, open_work })
}

/// Attempts of `campaign_id` grouped by state, disposition, intent and
/// vendor, and how many of them finished at or after `since`.
pub async fn attempt_tally<C: ConnectionTrait>(
    db: &C,
    campaign_id: i64,
    since: DateTime<Utc>,
) -> Result<(Vec<AttemptGroup>, u64), StoreError> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(
        "SELECT state, disposition, intent, vendor_id, COUNT(*) AS n, \
         CAST(COALESCE(SUM(CASE WHEN completed_at >= ",
    )
    .bind(since)
    .push(" THEN 1 ELSE 0 END), 0) AS BIGINT) AS recent FROM attempts WHERE campaign_id = ")
    .bind(campaign_id)
    .push(" GROUP BY state, disposition, intent, vendor_id");
    let mut groups = Vec::new();
    let mut recent = 0;
    for row in db.query_all_raw(sql.build()).await? {
        recent += row.try_get::<i64>("", "recent")?.max(0) as u64;
        groups.push(AttemptGroup {
            state: row.try_get("", "state")?,
            disposition: row.try_get("", "disposition")?,
            intent: row.try_get("", "intent")?,
            vendor_id: row.try_get("", "vendor_id")?,
            count: row.try_get::<i64>("", "n")?.max(0) as u64,
        });
    }
    Ok((groups, recent))
}

#[cfg(test)]
#[path = "campaign_stats_tests.rs"]
mod tests;

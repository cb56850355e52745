//! How far behind the inbox is: its pending rows and when the oldest of them
//! arrived, sampled for `campaignd_inbox_depth` and
//! `campaignd_inbox_oldest_pending_seconds`.
//!
//! One statement, cheap on a big inbox: the count and the smallest id of the
//! pending rows read only an index that starts with the state
//! (`ix_inbox_state_id`, or `ix_inbox_state_retry`): the entries of the
//! pending rows and none of the processed history (an index-only scan on
//! PostgreSQL, a covering index on SQLite), so its cost follows the backlog,
//! not the table; the oldest row's `received_at` is then one primary-key
//! lookup. Ids are handed out in
//! the order rows are stored, which is the order they were received but for
//! the inbox writer's batching (milliseconds), so the row with the smallest
//! id is the oldest pending one.

use super::StoreError;
use crate::domain::state::InboxState;
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

/// The inbox's backlog at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxDepth {
    /// Rows still `pending` (due now or waiting for a match or a retry).
    pub pending: u64,
    /// When the oldest pending row was received; None when there is none.
    pub oldest_received_at: Option<DateTime<Utc>>,
}

#[derive(FromQueryResult)]
struct Row {
    pending: i64,
    oldest: Option<DateTime<Utc>>,
}

/// The statement's text; the state is bound as the one parameter.
fn sql(backend: sea_orm::DbBackend) -> String {
    let param = if backend == sea_orm::DbBackend::Postgres { "$1" } else { "?" };
    format!(
        "SELECT p.pending AS pending, c.received_at AS oldest \
         FROM (SELECT COUNT(*) AS pending, MIN(id) AS oldest_id FROM callback_inbox WHERE state = {param}) p \
         LEFT JOIN callback_inbox c ON c.id = p.oldest_id"
    )
}

pub async fn inbox_depth<C: ConnectionTrait>(db: &C) -> Result<InboxDepth, StoreError> {
    let backend = db.get_database_backend();
    let stmt = Statement::from_sql_and_values(backend, sql(backend), [InboxState::Pending.as_str().into()]);
    let row = Row::find_by_statement(stmt).one(db).await?;
    Ok(match row {
        Some(r) => InboxDepth { pending: u64::try_from(r.pending).unwrap_or(0), oldest_received_at: r.oldest },
        None => InboxDepth { pending: 0, oldest_received_at: None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::inbox::{NewCallback, insert_many};
    use crate::store::testkit;

    fn callback(received_at: DateTime<Utc>, state: InboxState, n: u8) -> NewCallback {
        NewCallback {
            vendor_id: "sim".into(),
            remote_addr: None,
            headers: serde_json::Value::Null,
            body: vec![n],
            state,
            error: None,
            received_at,
        }
    }

    #[tokio::test]
    async fn counts_pending_rows_and_finds_the_oldest() {
        let db = testkit::memory_db().await;
        assert_eq!(inbox_depth(&db).await.unwrap(), InboxDepth { pending: 0, oldest_received_at: None });
        let t0: DateTime<Utc> = "2026-12-05T01:00:00Z".parse().unwrap();
        let rows = vec![
            callback(t0 - chrono::TimeDelta::minutes(5), InboxState::Rejected, 1),
            callback(t0, InboxState::Pending, 2),
            callback(t0 + chrono::TimeDelta::seconds(3), InboxState::Pending, 3),
        ];
        insert_many(&db, rows).await.unwrap();
        assert_eq!(inbox_depth(&db).await.unwrap(), InboxDepth { pending: 2, oldest_received_at: Some(t0) });
    }

    #[tokio::test]
    async fn reads_only_the_state_index_on_sqlite() {
        let db = testkit::memory_db().await;
        let plan = format!("EXPLAIN QUERY PLAN {}", sql(sea_orm::DbBackend::Sqlite));
        let stmt = Statement::from_sql_and_values(sea_orm::DbBackend::Sqlite, plan, ["pending".into()]);
        let detail: Vec<String> =
            db.query_all_raw(stmt).await.unwrap().iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect();
        let text = detail.join("\n");
        assert!(text.contains("USING COVERING INDEX ix_inbox_state_"), "{text}");
        assert!(text.contains("(state=?)"), "{text}");
        assert!(!text.contains("SCAN callback_inbox"), "no full scan: {text}");
    }
}

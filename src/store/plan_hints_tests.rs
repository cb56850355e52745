//! The hinted reads as SQLite plans them, on the daemon's own schema with no
//! statistics (the daemon runs no ANALYZE). Each fails on the query without
//! its hint.

use crate::store::raw_sql::padded;
use crate::store::{dispatch::still_leased_query, facts::flights_query, testkit};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

async fn plan_of(db: &crate::store::Db, statement: Statement) -> String {
    let explain = Statement::from_sql_and_values(
        DbBackend::Sqlite,
        format!("EXPLAIN QUERY PLAN {}", statement.sql),
        statement.values.map(|v| v.0).unwrap_or_default(),
    );
    let rows = db.query_all_raw(explain).await.expect("explain");
    rows.iter().map(|r| r.try_get::<String>("", "detail").expect("detail")).collect::<Vec<_>>().join("\n")
}

/// The calls in flight for a claim's numbers are found by seeking each
/// number and case, not by reading every attempt in flight: that read grew
/// with the calls in flight, on every claim.
#[tokio::test]
async fn calls_in_flight_are_sought_by_number_and_case_not_by_state() {
    let db = testkit::memory_db().await;
    let phones: Vec<String> = (0..1000).map(|i| format!("+62812{i:08}")).collect();
    let cases: Vec<String> = (0..1000).map(|i| format!("case-{i}")).collect();
    let phones = padded(&phones.iter().map(String::as_str).collect::<Vec<_>>());
    let cases = padded(&cases.iter().map(String::as_str).collect::<Vec<_>>());
    let statement = flights_query(DbBackend::Sqlite, &phones, &cases).build(DbBackend::Sqlite);
    let plan = plan_of(&db, statement).await;
    assert!(plan.contains("ix_attempts_phone_state (phone=? AND state=?)"), "each number sought:\n{plan}");
    assert!(plan.contains("ix_attempts_case_state (case_id=? AND state=?)"), "each case sought:\n{plan}");
    assert!(!plan.contains("ix_attempts_state"), "no read of every attempt in a state:\n{plan}");
}

/// The lease check before a batch goes out seeks each of its refs, not
/// every attempt being dispatched (all of a claim's batches, every
/// instance's).
#[tokio::test]
async fn the_lease_check_seeks_each_ref_not_every_attempt_being_dispatched() {
    let db = testkit::memory_db().await;
    let refs: Vec<String> = (0..500).map(|i| format!("inst-{i}-1")).collect();
    let refs = padded(&refs.iter().map(String::as_str).collect::<Vec<_>>());
    let until = chrono::Utc::now();
    let statement = still_leased_query(DbBackend::Sqlite, &refs, "me", until).build(DbBackend::Sqlite);
    let plan = plan_of(&db, statement).await;
    assert!(plan.contains("USING INDEX sqlite_autoindex_attempts_1 (attempt_ref=?)"), "each ref sought:\n{plan}");
    assert!(!plan.contains("ix_attempts_state"), "no read of every attempt in a state:\n{plan}");
}

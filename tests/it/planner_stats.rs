//! PostgreSQL plans each query from the row counts of the last `ANALYZE`;
//! a burst (a vendor's whole task of results, an import) changes them in
//! seconds. The daemon analyzes a table once enough of it changed
//! (`campaignd::planner_stats`), so the planner sees the burst and not the
//! empty queue it saw before.

use crate::common;

use campaignd::app::App;
use campaignd::clock::SystemClock;
use campaignd::config::{Settings, parse};
use campaignd::store::db;
use common::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Rows of the burst: well past the minimum of changes that calls for an
/// `ANALYZE` (`domain::planner_stats::MIN_CHANGES`).
const BURST: i64 = 20_000;

fn settings(db: &TestDb, extra: &str) -> Settings {
    let text = format!("[database]\nurl = \"{}\"\n{extra}\n[http]\nlisten = \"127.0.0.1:0\"\n", db.url);
    parse(&text, Path::new("test.toml"), Path::new("."), &campaignd::vendors::Kinds).expect("valid config")
}

/// Autovacuum off for the table, wherever the server has it on: only the
/// daemon may analyze it here, and the test cannot race the server's own.
async fn only_the_daemon_analyzes(conn: &DatabaseConnection) {
    conn.execute_unprepared("ALTER TABLE callback_inbox SET (autovacuum_enabled = false)").await.expect("alter");
}

/// `BURST` pending callbacks, due now, as the inbox writer stores them.
async fn burst_of_callbacks(conn: &DatabaseConnection) {
    let sql = format!(
        "INSERT INTO callback_inbox (dedupe_key, vendor_id, received_at, headers, body, state, events, retry_at) \
         SELECT 'k' || g, 'sim', now(), '{{}}'::json, '\\x7b7d'::bytea, 'pending', 0, now() - interval '1 second' \
         FROM generate_series(1, {BURST}) g"
    );
    conn.execute_unprepared(&sql).await.expect("insert the burst");
}

/// How many pending rows the planner expects in the inbox.
async fn planned_pending(conn: &DatabaseConnection) -> f64 {
    let sql = "EXPLAIN (FORMAT JSON) SELECT id FROM callback_inbox WHERE state = 'pending'";
    let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), sql)).await.unwrap().unwrap();
    let plan: serde_json::Value = row.try_get_by_index(0).expect("json plan");
    plan[0]["Plan"]["Plan Rows"].as_f64().expect("Plan Rows")
}

async fn analyses(conn: &DatabaseConnection) -> i64 {
    common::scalar(conn, "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'callback_inbox'").await
}

#[tokio::test]
async fn a_burst_of_callbacks_is_analyzed_once_and_then_planned_as_it_is() {
    let db = TestDb::postgres_always();
    let conn = db::connect(&settings(&db, "").database).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    only_the_daemon_analyzes(&conn).await;
    burst_of_callbacks(&conn).await;
    let before = planned_pending(&conn).await;
    assert!(before < BURST as f64 / 10.0, "the premise: unanalyzed, {BURST} pending rows are planned as {before}");

    // The server counts a backend's changes within about a second of its
    // commit (ten when that backend goes idle right after): poll.
    let analyzed = common::poll_until(Duration::from_secs(30), "callback_inbox analyzed", || async {
        let done = campaignd::planner_stats::refresh(&conn).await.expect("refresh");
        done.contains(&"callback_inbox").then_some(done)
    })
    .await;
    assert!(!analyzed.contains(&"contacts"), "an empty table is not analyzed: {analyzed:?}");
    let after = planned_pending(&conn).await;
    assert!(after > BURST as f64 * 0.9, "analyzed, {BURST} pending rows are planned as {after}");
    assert_eq!(analyses(&conn).await, 1);
    // From a small sample: a histogram of at most SAMPLE_TARGET buckets
    // (the server's default would keep 100), and the pooled connections
    // are back on the server's default target.
    let target = campaignd::store::planner_stats::SAMPLE_TARGET as i64;
    let bounds = common::scalar(
        &conn,
        "SELECT COALESCE(array_length(histogram_bounds, 1), 0)::int8 FROM pg_stats \
         WHERE tablename = 'callback_inbox' AND attname = 'id'",
    )
    .await;
    assert!((2..=target + 1).contains(&bounds), "{bounds} histogram bounds for {BURST} distinct ids");
    for _ in 0..4 {
        let sql = "SELECT (setting = reset_val)::int::int8 FROM pg_settings WHERE name = 'default_statistics_target'";
        assert_eq!(common::scalar(&conn, sql).await, 1, "SET LOCAL ended with the ANALYZE's transaction");
    }

    // Nothing changed since: the next rounds leave it alone.
    let again = campaignd::planner_stats::refresh(&conn).await.expect("refresh");
    assert!(!again.contains(&"callback_inbox"), "{again:?}");
}

#[tokio::test]
async fn tables_another_role_owns_are_left_to_autovacuum() {
    let db = TestDb::postgres_always();
    let conn = db::connect(&settings(&db, "").database).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    let owned = campaignd::store::planner_stats::changes(&conn).await.expect("changes");
    assert!(owned.iter().any(|(t, _)| *t == "callback_inbox"), "the owner's tables: {owned:?}");
    // A role that neither owns the tables nor belongs to their owner: the
    // server would skip its ANALYZE with a warning, every round.
    let txn = conn.begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL ROLE pg_monitor").await.expect("set role");
    let others = campaignd::store::planner_stats::changes(&txn).await.expect("changes");
    assert!(others.is_empty(), "another role's tables: {others:?}");
}

#[tokio::test]
async fn the_running_daemon_analyzes_a_table_a_burst_changed() {
    let db = TestDb::postgres_always();
    let app = App::build(settings(&db, "analyze_every = \"100ms\""), Arc::new(SystemClock)).await.expect("build");
    let conn = db.connect().await;
    only_the_daemon_analyzes(&conn).await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(app.run_until_stopped(stop.clone()));
    burst_of_callbacks(&conn).await;
    common::poll_until(Duration::from_secs(30), "the daemon's ANALYZE of callback_inbox", || async {
        (analyses(&conn).await >= 1).then_some(())
    })
    .await;
    // (What the planner then expects is the test above's: here the daemon's
    // inbox processor works through the burst meanwhile.)
    stop.cancel();
    running.await.expect("join").expect("daemon stopped cleanly");
}

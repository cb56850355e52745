//! `[database]` pool settings reach the real connection: the statement timeout
//! is enforced by PostgreSQL, and start-up gives up on an unreachable server
//! after `connect_timeout` with a message naming it.

use crate::common;

use campaignd::config::{Settings, parse};
use campaignd::store::db;
use common::TestDb;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::path::Path;
use std::time::{Duration, Instant};

fn settings(database: &str) -> Settings {
    parse(&format!("[database]\n{database}\n"), Path::new("test.toml"), Path::new("."), &campaignd::vendors::Kinds)
        .expect("valid config")
}

async fn show_statement_timeout(conn: &DatabaseConnection) -> String {
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), "SHOW statement_timeout"))
        .await
        .expect("SHOW")
        .expect("one row");
    row.try_get_by_index::<String>(0).expect("text")
}

#[tokio::test]
async fn statement_timeout_from_the_config_cancels_long_statements_on_postgresql() {
    let db = TestDb::postgres_always();
    let s = settings(&format!("url = \"{}\"\nstatement_timeout = \"200ms\"", db.url));
    let conn = db::connect(&s.database).await.expect("connect");
    assert_eq!(show_statement_timeout(&conn).await, "200ms");

    let started = Instant::now();
    let err = conn.execute_unprepared("SELECT pg_sleep(2)").await.expect_err("a 2 s statement must be cancelled");
    let elapsed = started.elapsed();
    assert!(err.to_string().contains("canceling statement due to statement timeout"), "{err}");
    assert!(elapsed < Duration::from_millis(1500), "cancelled only after {elapsed:?}");
    // Statements within the limit run, on the same pool, after the cancel.
    conn.execute_unprepared("SELECT pg_sleep(0.05)").await.expect("a short statement");

    // Migrations are exempt: an instance queued behind another's migration
    // (the advisory lock) waits as long as that one takes.
    let other = db.connect().await;
    let other_instance = other.begin().await.expect("begin");
    other_instance
        .execute_unprepared("SELECT pg_advisory_xact_lock(hashtextextended('campaignd:migrations', 0))")
        .await
        .expect("take the migration lock");
    let queued = tokio::spawn({
        let conn = conn.clone();
        async move { db::migrate(&conn).await }
    });
    // Once migrate is seen queued on the lock, the other instance's migration
    // goes on for three times the 200 ms statement timeout: the wait is what
    // is under test, not a synchronization. (Waiters on this database only:
    // other tests' daemons migrate their own databases on the same server.)
    common::poll_until(Duration::from_secs(10), "migrate waiting for the migration lock", || async {
        let waiting = common::scalar(
            &other,
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .await;
        (waiting > 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!queued.is_finished(), "migrate did not wait for the lock: {:?}", queued.await);
    other_instance.commit().await.expect("release the migration lock");
    queued.await.expect("join").expect("migrations waited past the 200 ms statement timeout");

    // The default is 30 s, and "0s" lifts the limit.
    let default = db::connect(&settings(&format!("url = \"{}\"", db.url)).database).await.expect("connect");
    assert_eq!(show_statement_timeout(&default).await, "30s");
    let off = db::connect(&settings(&format!("url = \"{}\"\nstatement_timeout = \"0s\"", db.url)).database)
        .await
        .expect("connect");
    assert_eq!(show_statement_timeout(&off).await, "0");
}

#[tokio::test]
async fn start_up_gives_up_on_an_unreachable_server_after_connect_timeout() {
    // Nothing listens on port 1: every connection attempt is refused.
    let s = settings("url = \"postgres://postgres@127.0.0.1:1/postgres\"\nconnect_timeout = \"1s\"");
    let started = Instant::now();
    let err = db::connect(&s.database).await.expect_err("nothing to connect to");
    let elapsed = started.elapsed();
    assert!(err.to_string().contains("database.connect_timeout (1s)"), "{err}");
    assert!(elapsed >= Duration::from_millis(900), "gave up after {elapsed:?}, before connect_timeout");
    assert!(elapsed < Duration::from_secs(5), "gave up only after {elapsed:?}");

    // An error that waiting cannot fix fails at once.
    let db = TestDb::postgres_always();
    let missing = db.url.rsplit_once('/').map(|(server, _)| format!("{server}/no_such_database_here")).unwrap();
    let s = settings(&format!("url = \"{missing}\"\nconnect_timeout = \"20s\""));
    let started = Instant::now();
    let err = db::connect(&s.database).await.expect_err("no such database");
    assert!(err.to_string().contains("no_such_database_here"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?} for a missing database", started.elapsed());
}

//! A pooled SQLite connection that a failed COMMIT left inside a transaction
//! must not serve the next writer (see `db::sqlite_outside_transaction`).

use crate::config::DatabaseSettings;
use crate::store::db::{Writer, begin_write, connect};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
    row.expect("one row").try_get_by_index::<i64>(0).unwrap()
}

/// Replays the disk-full sequence without a full disk: SQLite rolls a
/// failed COMMIT back on its own (here: a ROLLBACK sent behind sqlx's back),
/// the next transaction's commit fails and leaves its transaction open (here:
/// a deferred foreign-key violation, which SQLite reports at COMMIT and keeps
/// the transaction open for), and then a callback batch is committed. With
/// one pooled connection, that batch must really be committed: visible to
/// another connection, which can also still write.
#[tokio::test]
async fn a_commit_after_failed_commits_is_real_and_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
    let settings = DatabaseSettings {
        max_connections: 1,
        min_connections: 1,
        busy_timeout: std::time::Duration::from_millis(200),
        ..DatabaseSettings::with_url(url.clone())
    };
    let db = connect(&settings).await.unwrap();
    db.execute_unprepared(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent(id));
         CREATE TABLE inbox (id INTEGER PRIMARY KEY, body TEXT)",
    )
    .await
    .unwrap();

    // 1. A COMMIT fails and SQLite has already rolled the transaction back.
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    txn.execute_unprepared("INSERT INTO inbox (body) VALUES ('first')").await.unwrap();
    txn.execute_unprepared("ROLLBACK").await.unwrap();
    assert!(txn.commit().await.is_err(), "COMMIT without a transaction fails");

    // 2. The next writer's COMMIT fails and leaves its transaction open.
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    txn.execute_unprepared("PRAGMA defer_foreign_keys = ON").await.unwrap();
    txn.execute_unprepared("INSERT INTO child (parent) VALUES (42)").await.unwrap();
    assert!(txn.commit().await.is_err(), "a deferred foreign-key violation fails the COMMIT");

    // 3. A callback batch: Ok must mean committed.
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    txn.execute_unprepared("INSERT INTO inbox (body) VALUES ('acknowledged')").await.unwrap();
    txn.commit().await.expect("the batch commits");

    let other = Database::connect(&url).await.unwrap();
    assert_eq!(
        count(&other, "SELECT COUNT(*) FROM inbox WHERE body = 'acknowledged'").await,
        1,
        "acknowledged but not committed"
    );
    other.execute_unprepared("PRAGMA busy_timeout = 200").await.unwrap();
    other
        .execute_unprepared("INSERT INTO inbox (body) VALUES ('other writer')")
        .await
        .expect("another connection can write: no transaction left holding the lock");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM child").await, 0, "the failed transaction was rolled back");
}

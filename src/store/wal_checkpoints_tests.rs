//! The writer leaves checkpoints to the checkpointer: what a commit put in
//! the WAL reaches the database file without the writer copying it.

use super::*;
use crate::store::db::{Writer, begin_write, connect};
use crate::store::testkit::{scalar, sqlite_file as settings};
use std::time::Instant;

/// Pages of the transaction below: well past SQLite's default
/// `wal_autocheckpoint` of 1,000, under [`BACKSTOP_PAGES`].
const ROWS: i64 = 3_000;

#[tokio::test]
async fn the_writer_checkpoints_only_past_the_backstop() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(&settings(&dir.path().join("c.db"))).await.unwrap();
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    assert_eq!(scalar(&txn, "PRAGMA wal_autocheckpoint").await, i64::from(BACKSTOP_PAGES));
}

#[tokio::test]
async fn a_commit_reaches_the_database_file_without_the_writer_copying_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.db");
    let db = connect(&settings(&file)).await.unwrap();
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    txn.execute_unprepared("CREATE TABLE t (b BLOB)").await.unwrap();
    let fill = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         INSERT INTO t SELECT zeroblob(4000) FROM n"
    );
    txn.execute_unprepared(&fill).await.unwrap();
    txn.commit().await.unwrap();
    // About one 4 KiB page per row; the writer did not copy them (it would
    // only past the backstop), so only the checkpointer can put them there.
    let copied = ROWS * 4000;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let size = std::fs::metadata(&file).unwrap().len() as i64;
        if size >= copied {
            break;
        }
        assert!(Instant::now() < deadline, "the database file is {size} bytes: the WAL was not checkpointed");
        tokio::time::sleep(CADENCE / 4).await;
    }
    // Reading the rows back goes on as before.
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM t").await, ROWS);
}

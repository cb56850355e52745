use crate::config::DatabaseSettings;
use crate::store::db::{Writer, begin_read, begin_write, close, connect};
use crate::store::testkit::{scalar as count, sqlite_file};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

fn settings(file: &std::path::Path) -> DatabaseSettings {
    DatabaseSettings { max_connections: 4, min_connections: 0, ..sqlite_file(file) }
}

/// Open every connection of the pool at once, so that the pool has several
/// to hand out in turn (it opens them only when asked for more at a time).
async fn fill(db: &DatabaseConnection) {
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(begin_read(db).await.unwrap());
    }
    for txn in &open {
        count(txn, "SELECT 1").await;
    }
}

/// A temp table belongs to the connection that made it: a write transaction
/// finds the rows of every earlier one only if they all ran on one
/// connection. The pool hands its four out in turn (reads between the writes
/// take their turns too), so through the pool they would be spread.
#[tokio::test]
async fn every_write_transaction_runs_on_the_one_writer_connection() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(&settings(&dir.path().join("w.db"))).await.unwrap();
    fill(&db).await;
    for n in 0..6 {
        let txn = begin_write(&db, Writer::Other).await.unwrap();
        txn.execute_unprepared("CREATE TEMP TABLE IF NOT EXISTS writes (n INTEGER)").await.unwrap();
        txn.execute_unprepared(&format!("INSERT INTO temp.writes VALUES ({n})")).await.unwrap();
        txn.commit().await.unwrap();
        count(&db, "SELECT 1").await;
    }
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    assert_eq!(count(&txn, "SELECT COUNT(*) FROM temp.writes").await, 6, "the writes ran on more than one connection");
}

/// A pool is known by its own identity, not by the file's name: a file
/// deleted and made again at the same path is written by the new pool's
/// writer, never by a writer still open on the deleted file.
#[tokio::test]
async fn a_new_pool_on_a_file_made_again_at_the_same_path_writes_to_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("again.db");
    let first = connect(&settings(&file)).await.unwrap();
    let txn = begin_write(&first, Writer::Other).await.unwrap();
    txn.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap();
    txn.commit().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }

    let second = connect(&settings(&file)).await.unwrap();
    let txn = begin_write(&second, Writer::Other).await.unwrap();
    txn.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap();
    txn.execute_unprepared("INSERT INTO t VALUES (7)").await.unwrap();
    txn.commit().await.unwrap();

    let reader = Database::connect(format!("sqlite://{}", file.display())).await.unwrap();
    assert_eq!(count(&reader, "SELECT COUNT(*) FROM t WHERE n = 7").await, 1, "the row went to the deleted file");
    drop(first);
}

/// The writer reads what the pool committed and the pool reads what the
/// writer committed: two connections on one file, not two databases.
#[tokio::test]
async fn the_writer_and_the_pool_see_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = connect(&settings(&dir.path().join("one.db"))).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap();
    db.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    assert_eq!(count(&txn, "SELECT COUNT(*) FROM t").await, 1);
    txn.execute_unprepared("INSERT INTO t VALUES (2)").await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM t").await, 2);
}

async fn written(file: &std::path::Path) -> DatabaseConnection {
    let db = connect(&settings(file)).await.unwrap();
    let txn = begin_write(&db, Writer::Other).await.unwrap();
    txn.execute_unprepared("CREATE TABLE t (n INTEGER)").await.unwrap();
    txn.execute_unprepared("INSERT INTO t VALUES (1)").await.unwrap();
    txn.commit().await.unwrap();
    db
}

fn wal(file: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}-wal", file.display()))
}

/// SQLite checkpoints the WAL into the file and removes it when the last
/// connection closes: closing the pool must close its writer too.
#[tokio::test]
async fn closing_the_pool_closes_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("close.db");
    let db = written(&file).await;
    assert!(wal(&file).exists());
    close(db).await.unwrap();
    assert!(!wal(&file).exists(), "a connection is still open on the file");
}

/// A pool dropped without `close` takes its writer with it. (Run alone,
/// this fails without the close-event task; beside other tests, their
/// `connect`s also sweep the entries of dropped pools.)
#[tokio::test]
async fn dropping_the_pool_closes_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("drop.db");
    drop(written(&file).await);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while wal(&file).exists() {
        assert!(std::time::Instant::now() < deadline, "a connection is still open on the file 10 s after the drop");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A read-only URL (a reader beside a running daemon, as the benchmarks'
/// is) gets no writer and no checkpointer: a checkpoint through a file
/// opened read-only fails every round with SQLITE_IOERR_WRITE, logged as a
/// disk I/O error. Its reads still see what the writable pool committed.
#[tokio::test]
async fn a_read_only_url_gets_no_writer_and_no_checkpointer() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.db");
    let db = connect(&settings(&file)).await.unwrap();
    db.execute_unprepared("CREATE TABLE t (n INTEGER); INSERT INTO t VALUES (1), (2)").await.unwrap();
    assert!(super::find(&db).is_some(), "the writable pool has its writer");
    let read_only = DatabaseSettings { url: format!("sqlite://{}?mode=ro", file.display()), ..settings(&file) };
    let reader = connect(&read_only).await.unwrap();
    assert!(super::find(&reader).is_none(), "a read-only pool was given a writer and a checkpointer");
    assert_eq!(count(&reader, "SELECT COUNT(*) FROM t").await, 2);
    close(reader).await.unwrap();
    close(db).await.unwrap();
}

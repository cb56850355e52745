//! Group commit for the callback inbox. Handlers hand their delivery to one
//! writer task and wait; the writer stores everything that queued up while
//! the previous commit was running in a single transaction (one fsync), then
//! answers each handler. Nothing waits on a timer: under light load a batch is
//! one row, under heavy load the fsync cost is shared. A handler answers 2xx
//! only after its row is committed.
//!
//! On SQLite the writer takes its write turn first and gathers the batch
//! once it holds it: the other writers (the processor's pages, claims) hold
//! the file most of the time under load, and the callbacks that arrive
//! meanwhile go into the same commit instead of waiting for one of their own.
//!
//! Each delivery's row values (its body hash included) are made by the
//! handler that sends it, on whichever core runs that handler; the writer
//! only binds them into fixed-shape statements (see [`chunk_sql`]; on SQLite
//! the whole transaction is one text sent in one call, [`sqlite_whole`]), so
//! the one task every callback waits on does as little as possible.
//!
//! While the store cannot write (disk full, read-only, server down: see
//! [`StoreHealth`]) a batch is refused at once, so vendors get their 503 in
//! milliseconds and retry later instead of waiting on a write bound to fail.

use crate::failure_log::FailureLog;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::db::{InboxTurn, begin_inbox_insert};
use crate::store::health::{StoreFault, StoreHealth};
use crate::store::inbox::{NewCallback, dedupe_key};
use crate::store::raw_sql::{INSERT_SIZES, insert_chunks};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most rows per transaction (bounds statement size and the wait of the
/// first handler in a batch).
const MAX_BATCH: usize = 256;

/// A batch not committed within this is answered 503 (the vendor retries)
/// and the store counts as unwritable until a probe succeeds: a PostgreSQL
/// that stopped answering would otherwise hold every handler for the whole
/// pool acquire timeout. (A commit that lands after its deadline only makes
/// the vendor's retry a duplicate, which is applied once.)
const WRITE_DEADLINE: Duration = Duration::from_secs(5);

/// Why a delivery was not stored. Safe to show to clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotStored {
    #[error("store not writable: {0}")]
    Unwritable(StoreFault),
    /// A failure that is not a store fault (the full text is in the log).
    #[error("storing failed: {0}")]
    Failed(Arc<str>),
    #[error("inbox writer stopped")]
    Stopped,
}

type Reply = oneshot::Sender<Result<(), NotStored>>;

/// One delivery's values, in the column order of [`chunk_sql`].
pub(super) struct Row([Value; PER_ROW]);

impl Row {
    pub(super) fn new(cb: NewCallback) -> Row {
        Row([
            dedupe_key(&cb.body).into(),
            cb.vendor_id.into(),
            cb.received_at.into(),
            cb.remote_addr.into(),
            Value::Json(Some(Box::new(cb.headers))),
            cb.body.into(),
            cb.state.as_str().into(),
            cb.error.into(),
            cb.received_at.into(),
        ])
    }
}

#[derive(Clone)]
pub struct InboxWriter {
    tx: mpsc::Sender<(Row, Reply)>,
}

impl InboxWriter {
    /// Start the writer task; it ends when the last `InboxWriter` is dropped.
    pub fn spawn(db: Db, health: StoreHealth) -> InboxWriter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, health, rx));
        InboxWriter { tx }
    }

    /// Store one delivery durably; `Err` says why it was not stored.
    pub async fn store(&self, cb: NewCallback) -> Result<(), NotStored> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((Row::new(cb), reply)).await.map_err(|_| NotStored::Stopped)?;
        wait.await.map_err(|_| NotStored::Stopped)?
    }
}

async fn run(db: Db, health: StoreHealth, mut rx: mpsc::Receiver<(Row, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Every handler of a failed batch answers 503 (the vendor retries); the
    // reason is logged here, once per burst, not once per callback.
    let mut failures = FailureLog::new("storing callbacks");
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, mut replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let result = match health.writable() {
            Err(fault) => Err(NotStored::Unwritable(fault)),
            Ok(()) => {
                // The deliveries that queued while the batch waited for its
                // write turn join it, each with its reply in the same order.
                let gather = |rows: &mut Vec<Row>| {
                    while rows.len() < MAX_BATCH {
                        let Ok((row, reply)) = rx.try_recv() else { break };
                        rows.push(row);
                        replies.push(reply);
                    }
                };
                write_batch(&db, &health, rows, gather).await
            }
        };
        let n = replies.len();
        metrics::histogram!("campaignd_inbox_batch_rows").record(n as f64);
        match &result {
            Ok(()) => failures.succeeded(),
            Err(e) => {
                metrics::counter!("campaignd_inbox_store_failures_total").increment(n as u64);
                failures.failed(e);
            }
        }
        for reply in replies {
            // A handler that gave up (client went away) is fine to ignore.
            let _ = reply.send(result.clone());
        }
    }
}

/// One transaction for the batch: `rows`, and on SQLite those `gather` adds
/// once the write turn is held; Ok only once COMMIT has succeeded.
async fn write_batch(
    db: &Db,
    health: &StoreHealth,
    mut rows: Vec<Row>,
    gather: impl FnOnce(&mut Vec<Row>),
) -> Result<(), NotStored> {
    let write = async {
        if db.get_database_backend() == DbBackend::Sqlite {
            let turn = InboxTurn::take(db).await?;
            gather(&mut rows);
            return Ok(turn.insert(sqlite_whole(rows)).await?);
        }
        let txn = begin_inbox_insert(db).await?;
        insert_rows(&txn, rows).await?;
        txn.commit().await?;
        Ok::<_, StoreError>(())
    };
    match tokio::time::timeout(WRITE_DEADLINE, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(StoreError::Db(e))) => {
            let fault = health.report(&e);
            tracing::debug!(error = %e, "inbox batch not stored");
            Err(fault.map_or_else(|| NotStored::Failed(e.to_string().into()), NotStored::Unwritable))
        }
        Ok(Err(e)) => Err(NotStored::Failed(e.to_string().into())),
        Err(_) => {
            health.report_timeout();
            Err(NotStored::Unwritable(StoreFault::TimedOut))
        }
    }
}

/// Values bound per row: dedupe_key, vendor_id, received_at, remote_addr,
/// headers, body, state, error, retry_at (= received_at: due at once).
const PER_ROW: usize = 9;

/// The columns a row fills, in the order of [`Row`], then `events` (0).
const COLUMNS: &str = "dedupe_key, vendor_id, received_at, remote_addr, headers, body, state, error, retry_at, events";

/// `INSERT` of `rows` rows, each binding its own values by position (`?` on
/// SQLite, whose named or numbered placeholders cost a list search per bound
/// value; `$N` on PostgreSQL); `events` starts at 0.
fn chunk_sql(backend: DbBackend, rows: usize) -> String {
    let head = format!("{} callback_inbox ({COLUMNS}) VALUES ", super::raw_sql::insert_into(backend));
    super::raw_sql::positional_rows(backend, &head, rows, PER_ROW, "0")
}

/// SQLite: the `INSERT` of up to `rows` rows, `rows` a power of two: their
/// values come as a list of `rows`, padded with rows all NULL, which it
/// leaves out (a stored row's `dedupe_key` is never NULL). So nine texts
/// (1, 2, 4, … [`MAX_BATCH`] rows) serve every batch, each one statement,
/// and stay in the writer's statement cache.
fn sqlite_padded_insert(rows: usize) -> String {
    let head =
        format!("{} callback_inbox ({COLUMNS}) SELECT * FROM (VALUES ", super::raw_sql::insert_into(DbBackend::Sqlite));
    let mut sql = super::raw_sql::positional_rows(DbBackend::Sqlite, &head, rows, PER_ROW, "0");
    sql.push_str(") WHERE column1 IS NOT NULL");
    sql
}

/// SQLite: a batch's whole transaction, one text sent to the writer in one
/// call ([`InboxTurn::insert`] says why).
fn sqlite_whole(rows: Vec<Row>) -> Statement {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| {
        (0..=MAX_BATCH.ilog2()).map(|k| format!("BEGIN IMMEDIATE; {}; COMMIT", sqlite_padded_insert(1 << k))).collect()
    });
    let size = rows.len().next_power_of_two();
    let mut values: Vec<Value> = rows.into_iter().flat_map(|row| row.0).collect();
    values.resize(size * PER_ROW, Value::String(None));
    Statement::from_sql_and_values(DbBackend::Sqlite, texts[size.ilog2() as usize].as_str(), values)
}

/// The statement text of each size in [`INSERT_SIZES`] for `backend`, rendered once.
fn chunk_sqls(backend: DbBackend) -> &'static [String; 4] {
    static SQLITE: OnceLock<[String; 4]> = OnceLock::new();
    static POSTGRES: OnceLock<[String; 4]> = OnceLock::new();
    let cell = if backend == DbBackend::Postgres { &POSTGRES } else { &SQLITE };
    cell.get_or_init(|| INSERT_SIZES.map(|n| chunk_sql(backend, n)))
}

/// Insert the rows (the caller's transaction), in statements of the sizes in
/// [`INSERT_SIZES`] (why fixed sizes: there).
pub(super) async fn insert_rows<C: ConnectionTrait>(db: &C, rows: Vec<Row>) -> Result<(), StoreError> {
    let backend: DbBackend = db.get_database_backend();
    for chunk in insert_chunks(rows) {
        let shape = INSERT_SIZES.iter().position(|size| *size == chunk.len()).expect("a size of INSERT_SIZES");
        let values: Vec<Value> = chunk.into_iter().flat_map(|row| row.0).collect();
        db.execute_raw(Statement::from_sql_and_values(backend, chunk_sqls(backend)[shape].as_str(), values)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::EntityTrait;

    #[test]
    fn each_row_binds_its_own_values_by_position() {
        assert_eq!(chunk_sqls(DbBackend::Sqlite)[3], chunk_sql(DbBackend::Sqlite, 1));
        let pg = chunk_sql(DbBackend::Postgres, 2);
        assert!(pg.ends_with("($1,$2,$3,$4,$5,$6,$7,$8,$9,0),($10,$11,$12,$13,$14,$15,$16,$17,$18,0)"), "{pg}");
        assert!(chunk_sql(DbBackend::Sqlite, 2).ends_with("(?,?,?,?,?,?,?,?,?,0),(?,?,?,?,?,?,?,?,?,0)"));
    }

    fn callback(i: usize) -> NewCallback {
        NewCallback {
            vendor_id: "sim".into(),
            remote_addr: Some("127.0.0.1".into()),
            headers: serde_json::json!({"x-n": i}),
            body: format!("{{\"n\":{i}}}").into_bytes(),
            state: crate::domain::state::InboxState::Pending,
            error: None,
            received_at: chrono::DateTime::from_timestamp(1_800_000_000 + i as i64, 0).unwrap(),
        }
    }

    async fn file_db(dir: &tempfile::TempDir) -> Db {
        let db =
            crate::store::db::connect(&crate::store::testkit::sqlite_file(&dir.path().join("inbox.db"))).await.unwrap();
        crate::store::db::migrate(&db).await.unwrap();
        db
    }

    /// On a SQLite file, through the writer's one call: each batch size
    /// (padded to the next power of two) stores exactly its rows, as sent.
    #[tokio::test]
    async fn every_batch_size_stores_its_rows_and_no_padding_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let health = StoreHealth::new(db.clone(), None);
        let mut sent = 0;
        for n in [1, 2, 3, 5, 64, 65, 129, MAX_BATCH] {
            let rows = (sent..sent + n).map(|i| Row::new(callback(i))).collect();
            write_batch(&db, &health, rows, |_| ()).await.unwrap();
            sent += n;
            assert_eq!(crate::store::testkit::scalar(&db, "SELECT COUNT(*) FROM callback_inbox").await, sent as i64);
        }
        let stored = entity::callback_inbox::Entity::find().all(&db).await.unwrap();
        for (i, row) in stored.iter().enumerate() {
            let cb = callback(i);
            assert_eq!(row.body, cb.body, "row {i}");
            assert_eq!(row.dedupe_key, crate::store::inbox::dedupe_key(&cb.body));
            assert_eq!((row.vendor_id.as_str(), row.state.as_str(), row.events), ("sim", "pending", 0));
            assert_eq!(row.received_at, cb.received_at);
            assert_eq!(row.retry_at, cb.received_at);
            assert_eq!(row.headers, cb.headers);
        }
    }

    /// A batch is one transaction: a row that fails stores none of its
    /// batch, and the writer goes on with the next batch.
    #[tokio::test]
    async fn a_failed_row_stores_none_of_its_batch_and_the_next_batch_goes_in() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let health = StoreHealth::new(db.clone(), None);
        let mut bad = Row::new(callback(1));
        bad.0[1] = Value::String(None); // vendor_id is NOT NULL
        let batch = vec![Row::new(callback(0)), bad, Row::new(callback(2))];
        assert!(write_batch(&db, &health, batch, |_| ()).await.is_err());
        assert_eq!(crate::store::testkit::scalar(&db, "SELECT COUNT(*) FROM callback_inbox").await, 0);
        write_batch(&db, &health, (3..6).map(|i| Row::new(callback(i))).collect(), |_| ()).await.unwrap();
        assert_eq!(crate::store::testkit::scalar(&db, "SELECT COUNT(*) FROM callback_inbox").await, 3);
    }

    /// While the writer waits for its write turn with one delivery in hand,
    /// the deliveries that queue behind it join its batch once it holds the
    /// turn: one commit for all of them, each answered after it.
    #[tokio::test]
    async fn deliveries_that_queue_while_the_turn_is_held_share_its_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir).await;
        let writer = InboxWriter::spawn(db.clone(), StoreHealth::new(db.clone(), None));
        let turns_before = crate::store::db::inbox_turns_taken(&db);
        let held = crate::store::db::begin_write(&db, crate::store::db::Writer::Other).await.unwrap();
        let mut answers = Vec::new();
        let mut send = |i| {
            let (reply, answer) = oneshot::channel();
            writer.tx.try_send((Row::new(callback(i)), reply)).unwrap();
            answers.push(answer);
        };
        send(0);
        // The writer has taken the first delivery (the channel is empty
        // again) and waits for the turn this test holds.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while writer.tx.capacity() < writer.tx.max_capacity() {
            assert!(std::time::Instant::now() < deadline, "the writer never took the first delivery");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (1..20).for_each(&mut send);
        held.commit().await.unwrap();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        assert_eq!(crate::store::testkit::scalar(&db, "SELECT COUNT(*) FROM callback_inbox").await, 20);
        assert_eq!(crate::store::db::inbox_turns_taken(&db) - turns_before, 1, "one write turn, one commit");
    }

    #[tokio::test]
    async fn a_batch_keeps_no_statement_journal_on_sqlite() {
        let db = crate::store::testkit::memory_db().await;
        let padded = (0..=MAX_BATCH.ilog2()).map(|k| sqlite_padded_insert(1 << k));
        for sql in chunk_sqls(DbBackend::Sqlite).iter().cloned().chain(padded) {
            assert!(!crate::store::testkit::journals_statement(&db, &sql).await, "{sql}");
        }
    }
}

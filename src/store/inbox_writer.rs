//! Group commit for the callback inbox. Handlers hand their delivery to one
//! writer task and wait; the writer stores everything that queued up while
//! the previous commit was running in a single transaction (one fsync), then
//! answers each handler. Nothing waits on a timer: under light load a batch is
//! one row, under heavy load the fsync cost is shared. A handler answers 2xx
//! only after its row is committed.
//!
//! Each delivery's row values (its body hash included) are made by the
//! handler that sends it, on whichever core runs that handler; the writer
//! only binds them into fixed-shape statements (see [`chunk_sql`]), so the
//! one task every callback waits on does as little as possible.
//!
//! While the store cannot write (disk full, read-only, server down: see
//! [`StoreHealth`]) a batch is refused at once, so vendors get their 503 in
//! milliseconds and retry later instead of waiting on a write bound to fail.

use crate::failure_log::FailureLog;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::db::begin_inbox_insert;
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
        let (rows, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let n = rows.len();
        let result = match health.writable() {
            Err(fault) => Err(NotStored::Unwritable(fault)),
            Ok(()) => write_batch(&db, &health, rows).await,
        };
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

/// One transaction for the batch; Ok only once COMMIT has succeeded.
async fn write_batch(db: &Db, health: &StoreHealth, rows: Vec<Row>) -> Result<(), NotStored> {
    let write = async {
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

/// `INSERT` of `rows` rows, each binding its own values by position (`?` on
/// SQLite, whose named or numbered placeholders cost a list search per bound
/// value; `$N` on PostgreSQL); `events` starts at 0.
fn chunk_sql(backend: DbBackend, rows: usize) -> String {
    let head = format!(
        "{} callback_inbox (dedupe_key, vendor_id, received_at, remote_addr, headers, body, state, error, retry_at, \
         events) VALUES ",
        super::raw_sql::insert_into(backend)
    );
    super::raw_sql::positional_rows(backend, &head, rows, PER_ROW, "0")
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

    #[test]
    fn each_row_binds_its_own_values_by_position() {
        assert_eq!(chunk_sqls(DbBackend::Sqlite)[3], chunk_sql(DbBackend::Sqlite, 1));
        let pg = chunk_sql(DbBackend::Postgres, 2);
        assert!(pg.ends_with("($1,$2,$3,$4,$5,$6,$7,$8,$9,0),($10,$11,$12,$13,$14,$15,$16,$17,$18,0)"), "{pg}");
        assert!(chunk_sql(DbBackend::Sqlite, 2).ends_with("(?,?,?,?,?,?,?,?,?,0),(?,?,?,?,?,?,?,?,?,0)"));
    }

    #[tokio::test]
    async fn a_batch_keeps_no_statement_journal_on_sqlite() {
        let db = crate::store::testkit::memory_db().await;
        for sql in chunk_sqls(DbBackend::Sqlite) {
            assert!(!crate::store::testkit::journals_statement(&db, sql).await, "{sql}");
        }
    }
}

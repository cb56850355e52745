//! Group commit for the callback inbox. Handlers hand their delivery to one
//! writer task and wait; the writer stores everything that queued up while
//! the previous commit was running in a single transaction (one fsync), then
//! answers each handler. Nothing waits on a timer: under light load a batch is
//! one row, under heavy load the fsync cost is shared. A handler answers 2xx
//! only after its row is committed.

use crate::failure_log::FailureLog;
use crate::store::db::begin_write;
use crate::store::inbox::{NewCallback, insert_many};
use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

/// Most rows per transaction (bounds statement size and the wait of the
/// first handler in a batch).
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct InboxWriter {
    tx: mpsc::Sender<(NewCallback, Reply)>,
}

impl InboxWriter {
    /// Start the writer task; it ends when the last `InboxWriter` is dropped.
    pub fn spawn(db: DatabaseConnection) -> InboxWriter {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, rx));
        InboxWriter { tx }
    }

    /// Store one delivery durably; `Err` carries the reason it was not stored.
    pub async fn store(&self, cb: NewCallback) -> Result<(), String> {
        let (reply, wait) = oneshot::channel();
        self.tx.send((cb, reply)).await.map_err(|_| "inbox writer stopped".to_string())?;
        wait.await.map_err(|_| "inbox writer stopped".to_string())?
    }
}

async fn run(db: DatabaseConnection, mut rx: mpsc::Receiver<(NewCallback, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Every handler of a failed batch answers 503 (the vendor retries); the
    // reason is logged here, once per burst, not once per callback.
    let mut failures = FailureLog::new("storing callbacks");
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let n = rows.len();
        let result = async {
            let txn = begin_write(&db).await?;
            insert_many(&txn, rows).await?;
            txn.commit().await?;
            Ok::<_, crate::store::StoreError>(())
        }
        .await
        .map_err(|e| e.to_string());
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

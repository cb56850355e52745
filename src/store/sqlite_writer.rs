//! SQLite: the write transactions of a pool run on one connection of their
//! own, the pool's *writer*.
//!
//! WHY: each SQLite connection keeps its own page cache, and in WAL mode it
//! throws the whole cache away when it begins a transaction after another
//! connection wrote. The pool hands its connections out in turn, so nearly
//! every write transaction began on a connection whose cache another
//! writer's commit had just voided, and read the index pages it was about to
//! change again from the file. SQLite writes one transaction at a time anyway
//! (`db::WriteTurns` queues them), so one connection loses nothing: it keeps
//! its cache from one write to the next, and it alone prepares and caches the
//! write path's statements, instead of every pooled connection holding its own
//! copy of them. Reads keep the pool.
//!
//! In-memory databases keep writing through the pool: their pool is the
//! database (one connection, `store::testkit`).

use crate::config::DatabaseSettings;
use sea_orm::DatabaseConnection;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::sync::{Arc, Mutex, Weak};

/// A pool's writer. The pool is known by its connect options: sqlx keeps them
/// in one `Arc` for the pool's lifetime and drops it with the pool. Holding
/// that `Arc` weakly names the pool without keeping it alive, and keeps the
/// address from being reused while the entry exists.
struct Writer {
    pool: Weak<SqliteConnectOptions>,
    conn: DatabaseConnection,
    /// The connection `store::wal_checkpoints` checkpoints on.
    checkpointer: SqlitePool,
}

static WRITERS: Mutex<Vec<Writer>> = Mutex::new(Vec::new());

fn writers() -> std::sync::MutexGuard<'static, Vec<Writer>> {
    WRITERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Give `db`, a pool on a SQLite file, its writer: a pool of one connection
/// with the same connect options (pragmas, busy timeout, `synchronous`) and
/// the same timeouts. It connects at the first write, and lets its connection
/// go after `idle_timeout` without writes, as the pool does. It closes when
/// the pool does; the entries of pools that were dropped are removed here.
pub(super) fn open(db: &DatabaseConnection, settings: &DatabaseSettings) {
    let options = db.get_sqlite_connection_pool().connect_options();
    let pool = super::db::with_release_check(one_connection(settings)).connect_lazy_with((*options).clone());
    // The WAL is checkpointed on a connection of its own, beside the
    // writer (`store::wal_checkpoints`), opened and closed the same way.
    let checkpointer = one_connection(settings).connect_lazy_with((*options).clone());
    super::wal_checkpoints::spawn(db, checkpointer.clone());
    // Both go with their pool: sqlx fires the pool's close event on
    // `close()` and when its last handle is dropped.
    let closed = db.get_sqlite_connection_pool().close_event();
    let closing = [pool.clone(), checkpointer.clone()];
    tokio::spawn(async move {
        closed.await;
        for pool in closing {
            pool.close().await;
        }
    });
    let mut writers = writers();
    writers.retain(|w| w.pool.strong_count() > 0);
    writers.push(Writer { pool: Arc::downgrade(&options), conn: pool.into(), checkpointer });
}

/// A pool of one connection, connected at its first use and let go after
/// `idle_timeout` unused, with the daemon pool's timeouts.
fn one_connection(settings: &DatabaseSettings) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .max_lifetime(settings.max_lifetime)
}

/// The connection `db`'s write transactions run on: its writer, or `db`
/// itself when it has none (an in-memory database).
pub(super) fn of(db: &DatabaseConnection) -> DatabaseConnection {
    writer(db).unwrap_or_else(|| db.clone())
}

/// Close `db`'s writer and checkpointer, if it has them, and wait until
/// their connections are closed.
pub(super) async fn close(db: &DatabaseConnection) {
    if let Some((writer, checkpointer)) = find(db) {
        writer.get_sqlite_connection_pool().close().await;
        checkpointer.close().await;
    }
}

fn writer(db: &DatabaseConnection) -> Option<DatabaseConnection> {
    find(db).map(|(writer, _)| writer)
}

fn find(db: &DatabaseConnection) -> Option<(DatabaseConnection, SqlitePool)> {
    let options = db.get_sqlite_connection_pool().connect_options();
    let writers = writers();
    let found = writers.iter().find(|w| std::ptr::eq(w.pool.as_ptr(), Arc::as_ptr(&options)));
    found.map(|w| (w.conn.clone(), w.checkpointer.clone()))
}

#[cfg(test)]
#[path = "sqlite_writer_tests.rs"]
mod tests;

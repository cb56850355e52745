//! Opening the database: pool, SQLite pragmas, migrations, and the
//! single-daemon lock for SQLite files.

use crate::config::DatabaseSettings;
use crate::domain::duration::format_duration;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, RuntimeErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Open a pool. SQLite gets WAL (readers never block the writer), a busy
/// timeout (writers queue instead of failing) and the configured `synchronous`;
/// PostgreSQL gets the statement timeout.
///
/// The database may not be up yet (both started at boot, or it is
/// restarting): start-up waits up to `connect_timeout` for it. Errors that
/// waiting cannot fix (bad credentials, no such database) fail at once.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let opts = connect_options(settings);
    let deadline = tokio::time::Instant::now() + settings.connect_timeout;
    let mut waiting = false;
    loop {
        match tokio::time::timeout_at(deadline, Database::connect(opts.clone())).await {
            Ok(Ok(db)) => {
                if waiting {
                    tracing::info!("database reachable");
                }
                return Ok(db);
            }
            Ok(Err(e)) if unreachable(&e) && tokio::time::Instant::now() < deadline => {
                if !waiting {
                    tracing::warn!(error = %e, wait = ?settings.connect_timeout, "database not reachable yet; waiting for it");
                    waiting = true;
                }
                let pause = deadline.saturating_duration_since(tokio::time::Instant::now());
                tokio::time::sleep(pause.min(Duration::from_millis(500))).await;
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(DbErr::Conn(RuntimeErr::Internal(format!(
                    "database not reachable within database.connect_timeout ({})",
                    format_duration(settings.connect_timeout)
                ))));
            }
        }
    }
}

/// The server did not answer (refused, no route, pool timed out): waiting may help.
fn unreachable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(s)) => {
            matches!(**s, sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::Io(_))
        }
        _ => false,
    }
}

fn connect_options(settings: &DatabaseSettings) -> ConnectOptions {
    let mut opts = ConnectOptions::new(settings.url.clone());
    opts.max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(settings.idle_timeout)
        .max_lifetime(settings.max_lifetime)
        // sqlx's default, kept on purpose: every connection is pinged before
        // it is handed out, so after a server restart each dead connection is
        // found and replaced there instead of failing the caller's query.
        .test_before_acquire(true)
        .sqlx_logging(false);
    // (No `connect_timeout` here: in sea-orm it is another name for the
    // acquire timeout. Ours bounds the wait at start-up, above.)
    if let Some(timeout) = settings.statement_timeout {
        opts.statement_timeout(timeout);
    }
    let busy = settings.busy_timeout;
    let full = settings.sqlite_synchronous_full;
    opts.map_sqlx_sqlite_opts(move |o| {
        o.journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(busy)
            .synchronous(if full { SqliteSynchronous::Full } else { SqliteSynchronous::Normal })
            .foreign_keys(true)
            .create_if_missing(true)
    });
    opts.map_sqlx_sqlite_pool_opts(|pool| {
        pool.after_release(|conn, _| Box::pin(async move { sqlite_outside_transaction(conn).await }))
    });
    opts
}

/// Whether a SQLite connection coming back to the pool is outside any
/// transaction; a connection that is not is closed instead of reused.
///
/// WHY: when a COMMIT fails (disk full, I/O error), SQLite may roll the
/// transaction back by itself. sqlx still counts it open (depth 1), the
/// ROLLBACK sent on drop then fails ("no transaction is active"), and the
/// connection goes back to the pool believing it is inside a transaction.
/// Its next BEGIN becomes a SAVEPOINT and its next COMMIT a RELEASE: when a
/// failed RELEASE left the real transaction open, every later "commit" on
/// that connection returns Ok while its rows sit in a transaction that never
/// commits — callbacks were answered 200 and then lost — and the connection
/// holds the write lock for good, so every other one gets `database is
/// locked` until a restart. Closing it rolls the stray transaction back
/// (nothing was acknowledged on it: acknowledgments need a real COMMIT) and
/// releases the lock.
async fn sqlite_outside_transaction(conn: &mut SqliteConnection) -> Result<bool, sea_orm::sqlx::Error> {
    // Locking the handle goes through the connection's worker, after any
    // ROLLBACK queued by a dropped transaction, so both readings are final.
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the handle is locked out of the worker thread for this call,
    // and sqlite3_get_autocommit only reads the connection's state.
    let autocommit = unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) } != 0;
    drop(handle);
    let sqlx_open = conn.is_in_transaction();
    if autocommit && !sqlx_open {
        return Ok(true);
    }
    metrics::counter!("campaignd_db_connections_discarded_total").increment(1);
    tracing::warn!(
        sqlite_in_transaction = !autocommit,
        sqlx_in_transaction = sqlx_open,
        "a database connection came back from a failed transaction still inside one; closed it"
    );
    Ok(false)
}

/// Bring the schema up to date. On PostgreSQL several instances may start
/// at once: they take turns behind a transaction-scoped advisory lock, and
/// every one after the first finds nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    advisory_xact_lock(&txn, "campaignd:migrations").await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// Wait for the PostgreSQL advisory lock named `key`, held until the
/// transaction ends: start-up steps of instances starting together take
/// turns. A no-op on SQLite, where a write transaction is exclusive anyway.
pub async fn advisory_xact_lock<C: ConnectionTrait>(txn: &C, key: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // A start-up step may run long (a migration on a big table), and the
    // instances queued behind it wait as long: neither is a stuck statement,
    // so the statement timeout is lifted for the rest of the transaction.
    txn.execute_unprepared("SET LOCAL statement_timeout = 0").await?;
    let stmt = sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [key.into()],
    );
    txn.execute_raw(stmt).await.map(|_| ())
}

/// Begin a transaction that will write. On SQLite it takes the write lock at
/// BEGIN, so a read-then-write transaction never fails with SQLITE_BUSY halfway.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut options = TransactionOptions::default();
    if db.get_database_backend() == DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
    }
    db.begin_with_options(options).await
}

/// The database file of a `sqlite:` URL, if it names a file.
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Held for the daemon's lifetime: a second `campaignd run` on the same SQLite
/// file cannot take it and refuses to start. (PostgreSQL instances cooperate
/// through the database instead.)
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another campaignd is already running on {db} (lock file {lock} is held); \
         stop it first, or use PostgreSQL to run several instances"
    )]
    Held { db: String, lock: String },
    #[error("cannot open lock file {lock}: {source}")]
    Io { lock: String, source: std::io::Error },
}

/// Take the single-daemon lock for a SQLite URL; `Ok(None)` for other backends.
pub fn lock_sqlite(url: &str) -> Result<Option<InstanceLock>, LockError> {
    let Some(db) = sqlite_file(url) else { return Ok(None) };
    let mut lock_path = db.clone().into_os_string();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let display = lock_path.display().to_string();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|source| LockError::Io { lock: display.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(InstanceLock { _file: file, path: lock_path })),
        Err(std::fs::TryLockError::WouldBlock) => Err(LockError::Held { db: db.display().to_string(), lock: display }),
        Err(std::fs::TryLockError::Error(source)) => Err(LockError::Io { lock: display, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_file_is_read_from_the_url() {
        assert_eq!(sqlite_file("sqlite://data/c.db?mode=rwc"), Some(PathBuf::from("data/c.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }

    #[test]
    fn second_lock_on_the_same_file_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
        let first = lock_sqlite(&url).unwrap();
        assert!(first.is_some());
        let err = lock_sqlite(&url).unwrap_err().to_string();
        assert!(err.contains("another campaignd is already running"), "{err}");
        drop(first);
        assert!(lock_sqlite(&url).unwrap().is_some(), "lock is released on drop");
    }
}

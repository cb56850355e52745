//! Whether the store can write right now, learned from the writes themselves.
//!
//! The inbox writer and the scheduler report every failed write here. An
//! error that says the store cannot take writes at all (disk full, read-only
//! or failing file, server unreachable) marks it unwritable: callbacks are
//! then answered 503 at once instead of queueing behind a write that will
//! fail, `/readyz` says why, and the scheduler stops claiming. A probe task
//! commits a tiny write every second until one succeeds, and the store is
//! writable again within about a second of the fault ending — no restart.
//!
//! This state never decides what is acknowledged: a callback is still 2xx'd
//! only after its own commit succeeded. It only decides who does not try.

use crate::store::db::{Writer, begin_write};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, RuntimeErr};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// While unwritable, one probe this often.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// A probe that takes longer than this counts as failed (a stalled server).
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// After a disk-full fault on SQLite, the store is writable again only once
/// its filesystem has this much room. The probe's own commit is no proof:
/// SQLite rewrites its WAL file from the start after a checkpoint, so a tiny
/// write fits into blocks the file already owns while the disk is still full,
/// and `/readyz` would flap to 200 until the next real batch fails.
const MIN_FREE_AFTER_DISK_FULL: u64 = 1024 * 1024;

/// Why the store cannot write: a short classification, safe to show to
/// clients (the database's own text stays in the daemon's log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFault {
    DiskFull,
    ReadOnly,
    IoError,
    /// The server does not answer, or refuses connections (PostgreSQL down or restarting).
    Unreachable,
    /// The write lock (SQLite) or a connection (pool) was not had in time.
    TimedOut,
}

impl fmt::Display for StoreFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreFault::DiskFull => "disk full",
            StoreFault::ReadOnly => "read-only",
            StoreFault::IoError => "I/O error",
            StoreFault::Unreachable => "database unreachable",
            StoreFault::TimedOut => "timed out",
        })
    }
}

/// The fault `e` shows, if it is one that stops every write (a constraint
/// violation or a bad query is a problem of that statement, not of the store).
pub fn classify(e: &DbErr) -> Option<StoreFault> {
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return Some(StoreFault::Unreachable),
        DbErr::Conn(RuntimeErr::SqlxError(s)) | DbErr::Exec(RuntimeErr::SqlxError(s)) => s,
        DbErr::Query(RuntimeErr::SqlxError(s)) => s,
        _ => return None,
    };
    use sea_orm::sqlx::Error;
    match &**sqlx {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed | Error::Tls(_) => {
            Some(StoreFault::Unreachable)
        }
        Error::Database(db) => {
            let code = db.code()?;
            match db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>() {
                Some(_) => sqlite_fault(code.parse().ok()?),
                None => postgres_fault(&code),
            }
        }
        _ => None,
    }
}

/// SQLite result codes (<https://sqlite.org/rescode.html>); the primary code
/// is the low byte of the extended one.
fn sqlite_fault(extended: i32) -> Option<StoreFault> {
    match extended & 0xff {
        13 => Some(StoreFault::DiskFull),               // SQLITE_FULL
        8 => Some(StoreFault::ReadOnly),                // SQLITE_READONLY
        10 | 14 | 11 | 26 => Some(StoreFault::IoError), // IOERR, CANTOPEN, CORRUPT, NOTADB
        5 | 6 => Some(StoreFault::TimedOut),            // BUSY, LOCKED: busy_timeout passed
        _ => None,
    }
}

/// PostgreSQL SQLSTATEs (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
fn postgres_fault(state: &str) -> Option<StoreFault> {
    match state {
        "53100" => Some(StoreFault::DiskFull),                        // disk_full
        "25006" => Some(StoreFault::ReadOnly),                        // read_only_sql_transaction
        "58030" => Some(StoreFault::IoError),                         // io_error
        "57P01" | "57P02" | "57P03" => Some(StoreFault::Unreachable), // shutdown, crash, starting up
        s if s.starts_with("08") => Some(StoreFault::Unreachable),    // connection exceptions
        "57014" => Some(StoreFault::TimedOut),                        // statement timeout
        _ => None,
    }
}

/// The shared, cheap-to-clone health of one database pool.
#[derive(Clone)]
pub struct StoreHealth {
    db: DatabaseConnection,
    /// The SQLite database file, whose filesystem's free space a disk-full
    /// fault waits for; None on PostgreSQL (the server reports its own).
    sqlite_file: Option<Arc<PathBuf>>,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Set while the store cannot write; the probe task runs exactly then.
    fault: Option<(StoreFault, Instant)>,
}

impl StoreHealth {
    /// Writable until a write says otherwise. `sqlite_file`: the database
    /// file, for a SQLite store.
    pub fn new(db: DatabaseConnection, sqlite_file: Option<PathBuf>) -> StoreHealth {
        metrics::gauge!("campaignd_store_writable").set(1.0);
        StoreHealth { db, sqlite_file: sqlite_file.map(Arc::new), state: Arc::new(Mutex::new(State::default())) }
    }

    /// `Err` with the reason while the store is known not to take writes.
    pub fn writable(&self) -> Result<(), StoreFault> {
        match self.lock().fault {
            Some((fault, _)) => Err(fault),
            None => Ok(()),
        }
    }

    /// A write failed with `e`: when it shows a store fault, the store is
    /// unwritable from now until a probe succeeds. Returns that fault.
    pub fn report(&self, e: &DbErr) -> Option<StoreFault> {
        let fault = classify(e)?;
        self.set_fault(fault, e);
        Some(fault)
    }

    /// The store did not answer a write within its deadline.
    /// Ask the database for a trivial answer now; a failure is reported
    /// (as [`report`](Self::report)) and returned as the short text a client
    /// may see, never the database's own words.
    pub async fn probe(&self, db: &super::Db) -> Result<(), String> {
        use sea_orm::ConnectionTrait;
        match db.execute_unprepared("SELECT 1").await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.report(&e).map_or_else(|| "query failed".to_string(), |f| f.to_string())),
        }
    }

    pub fn report_timeout(&self) {
        self.set_fault(StoreFault::TimedOut, &"no answer within the write deadline");
    }

    fn set_fault(&self, fault: StoreFault, cause: &dyn fmt::Display) {
        let mut state = self.lock();
        match &mut state.fault {
            Some((known, _)) => *known = fault,
            None => {
                state.fault = Some((fault, Instant::now()));
                drop(state);
                // The full error goes to the log only; clients get `fault`.
                tracing::error!(%fault, error = %cause, "store not writable: callbacks get 503 and claiming pauses until a probe write succeeds");
                metrics::gauge!("campaignd_store_writable").set(0.0);
                tokio::spawn(self.clone().probe_until_writable());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value that a panic cannot leave half-written.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn probe_until_writable(self) {
        loop {
            tokio::time::sleep(PROBE_EVERY).await;
            let outcome = tokio::time::timeout(PROBE_DEADLINE, probe_write(&self.db)).await;
            let fault = match outcome {
                Ok(Ok(())) if self.still_full() => StoreFault::DiskFull,
                Ok(Ok(())) => break,
                Ok(Err(e)) => classify(&e).unwrap_or(StoreFault::IoError),
                Err(_) => StoreFault::TimedOut,
            };
            if let Some((known, _)) = &mut self.lock().fault {
                *known = fault;
            }
        }
        let since = self.lock().fault.take().map(|(_, since)| since.elapsed());
        metrics::gauge!("campaignd_store_writable").set(1.0);
        tracing::warn!(unwritable_for = ?since.unwrap_or_default(), "store writable again; callbacks and claiming resume");
    }
}

impl StoreHealth {
    /// A disk-full fault on SQLite whose filesystem still has less than
    /// [`MIN_FREE_AFTER_DISK_FULL`] free (see there why the probe's commit
    /// does not settle it). A filesystem that cannot be asked settles nothing.
    fn still_full(&self) -> bool {
        let full = matches!(self.lock().fault, Some((StoreFault::DiskFull, _)));
        let Some(file) = self.sqlite_file.as_deref().filter(|_| full) else { return false };
        free_bytes(file).is_some_and(|free| free < MIN_FREE_AFTER_DISK_FULL)
    }
}

/// Bytes an unprivileged writer may still use on the filesystem of `file`.
fn free_bytes(file: &Path) -> Option<u64> {
    let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Commit a write that changes nothing: rewrites the one `installation` row
/// with its own value, through the same BEGIN/COMMIT path callbacks take, so
/// it fails exactly when their commits would (disk full, read-only, server down).
pub async fn probe_write(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = begin_write(db, Writer::Other).await?;
    txn.execute_unprepared("UPDATE installation SET created_at = created_at").await?;
    txn.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_classified_by_their_primary_code() {
        assert_eq!(sqlite_fault(13), Some(StoreFault::DiskFull));
        assert_eq!(sqlite_fault(8 | (3 << 8)), Some(StoreFault::ReadOnly), "SQLITE_READONLY_ROLLBACK");
        assert_eq!(sqlite_fault(10 | (3 << 8)), Some(StoreFault::IoError), "SQLITE_IOERR_WRITE");
        assert_eq!(sqlite_fault(5), Some(StoreFault::TimedOut));
        assert_eq!(sqlite_fault(19 | (8 << 8)), None, "a UNIQUE violation is the statement's problem");
    }

    #[test]
    fn postgres_states_are_classified() {
        assert_eq!(postgres_fault("53100"), Some(StoreFault::DiskFull));
        assert_eq!(postgres_fault("57P01"), Some(StoreFault::Unreachable));
        assert_eq!(postgres_fault("08006"), Some(StoreFault::Unreachable));
        assert_eq!(postgres_fault("25006"), Some(StoreFault::ReadOnly));
        assert_eq!(postgres_fault("23505"), None, "a UNIQUE violation is the statement's problem");
    }

    /// A reported fault makes the store unwritable at once; on a database
    /// that takes writes, the probe makes it writable again within seconds.
    #[tokio::test]
    async fn a_reported_fault_holds_until_a_probe_write_commits() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::store::db::connect(&crate::config::DatabaseSettings::with_url(url)).await.unwrap();
        crate::store::db::migrate(&db).await.unwrap();
        let health = StoreHealth::new(db, None);
        assert_eq!(health.writable(), Ok(()));
        let full = sea_orm::sqlx::Error::Protocol("stand-in".into());
        assert_eq!(health.report(&DbErr::Exec(RuntimeErr::SqlxError(Arc::new(full)))), None, "not a store fault");
        assert_eq!(health.writable(), Ok(()));
        let reported = Instant::now();
        health.report(&DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout));
        assert_eq!(health.writable(), Err(StoreFault::Unreachable));
        let deadline = reported + PROBE_EVERY * 5;
        while health.writable().is_err() {
            assert!(Instant::now() < deadline, "the probe did not restore the store within {:?}", PROBE_EVERY * 5);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(reported.elapsed() >= PROBE_EVERY, "writable again only by a probe, a second later");
    }

    #[test]
    fn pool_and_connection_failures_mean_unreachable() {
        let acquire = DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout);
        assert_eq!(classify(&acquire), Some(StoreFault::Unreachable));
        let io =
            DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(std::io::Error::other("refused")))));
        assert_eq!(classify(&io), Some(StoreFault::Unreachable));
        assert_eq!(classify(&DbErr::Custom("bad row".into())), None);
    }
}

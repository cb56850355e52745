//! Opening the database: pool, SQLite pragmas, migrations, and the
//! single-daemon lock for SQLite files.

use crate::config::DatabaseSettings;
use crate::config::validate::{sqlite_file, sqlite_read_only};
use crate::domain::duration::format_duration;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::Connection as _;
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
                // A read-only file gets no writer and no checkpointer: its
                // checkpoints would fail every round (SQLITE_IOERR_WRITE, the
                // file is open read-only), each logged as a disk I/O error.
                if sqlite_file(&settings.url).is_some() && !sqlite_read_only(&settings.url) {
                    super::sqlite_writer::open(&db, settings);
                }
                return Ok(db);
            }
            Ok(Err(e)) if unreachable(&e) && tokio::time::Instant::now() < deadline => {
                if !waiting {
                    tracing::warn!(error = %e, wait = ?settings.connect_timeout, "database not reachable (or busy) yet; waiting for it");
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

/// The server did not answer (refused, no route, pool timed out), or the
/// SQLite file is busy: waiting may help.
fn unreachable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(s)) => match &**s {
            sea_orm::sqlx::Error::PoolTimedOut | sea_orm::sqlx::Error::Io(_) => true,
            sea_orm::sqlx::Error::Database(d) => sqlite_busy(d.code().as_deref()),
            _ => false,
        },
        _ => false,
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6), in any extended form (the low byte
/// is the primary code). Opening a connection sets `journal_mode = WAL`,
/// which SQLite may refuse at once, without the busy handler, while another
/// process is still creating the file (a CLI command started beside a
/// daemon on a fresh database: the start-up test saw it under load).
fn sqlite_busy(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
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
            // Checkpoints are taken beside the writer; it takes one itself
            // only past this backstop (`store::wal_checkpoints`).
            .pragma("wal_autocheckpoint", super::wal_checkpoints::BACKSTOP_PAGES.to_string())
    });
    opts.map_sqlx_sqlite_pool_opts(with_release_check);
    opts
}

/// `pool` with [`sqlite_outside_transaction`] run on every connection it
/// gets back: the daemon's pool and its writer (`store::sqlite_writer`).
pub(super) fn with_release_check(pool: SqlitePoolOptions) -> SqlitePoolOptions {
    pool.after_release(|conn, _| Box::pin(async move { sqlite_outside_transaction(conn).await }))
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

/// Close the pool and wait until its connections are closed, the SQLite
/// writer's too (`store::sqlite_writer`): once the last connection to a file
/// closes, SQLite has checkpointed its WAL into the file and removed it.
pub async fn close(db: DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        super::sqlite_writer::close(&db).await;
    }
    db.close().await
}

/// Bring the schema up to date in one transaction. Several processes may
/// start at once on a fresh database (a daemon, and `campaignd status` typed
/// right after it): they take turns, and every one after the first finds
/// nothing left to do. PostgreSQL: a transaction-scoped advisory lock. SQLite:
/// the write lock taken at BEGIN IMMEDIATE, which waits `busy_timeout` for
/// the other process's migration to commit (without it, both saw no tables
/// and the second failed with `table "campaigns" already exists`).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = begin_write(db, Writer::Other).await?;
    advisory_xact_lock(&txn, "campaignd:migrations").await?;
    Migrator::up(&txn.txn, None).await?;
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

/// Begin a transaction that only reads: one snapshot for all its reads
/// (on SQLite, WAL: it takes no lock that a writer waits for).
pub async fn begin_read(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin().await
}

/// Begin a transaction that will write. On SQLite it takes the write lock at
/// BEGIN, so a read-then-write transaction never fails with SQLITE_BUSY halfway,
/// after waiting for this process's write turn on the file ([`WriteTurns`]),
/// and it runs on the pool's writer connection (`store::sqlite_writer`).
/// When it ends, it moves the file's [`WriteFence`].
/// `writer` names it in `campaignd_sqlite_write_turn_seconds`.
pub async fn begin_write(db: &DatabaseConnection, writer: Writer) -> Result<WriteTxn, DbErr> {
    begin(db, writer).await
}

/// Who holds SQLite's one writer: the `writer` label of
/// `campaignd_sqlite_write_turn_seconds`. A closed set, so that the metric
/// answers "what keeps the writer busy" without a label per call site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// The inbox writer's batches of callbacks ([`begin_inbox_insert`]).
    Inbox,
    /// The result processor's pages (`ingest::page_apply`).
    Processing,
    /// The scheduler claiming contacts for dispatch (`store::claim`).
    Claim,
    /// Recording what a vendor answered to a dispatch, and its rate tokens.
    Dispatch,
    /// Reconciliation: polled results, overdue attempts.
    Reconcile,
    /// Everything else: campaign edits, imports, suppressions, probes.
    Other,
}

impl Writer {
    fn label(self) -> &'static str {
        match self {
            Writer::Inbox => "inbox",
            Writer::Processing => "processing",
            Writer::Claim => "claim",
            Writer::Dispatch => "dispatch",
            Writer::Reconcile => "reconcile",
            Writer::Other => "other",
        }
    }
}

/// [`begin_write`] for a transaction that only inserts new rows into
/// `callback_inbox` (the inbox writer's): it does not move the
/// [`WriteFence`], because a new pending row changes no decision on the
/// rows before it (see `ingest::processor`).
pub async fn begin_inbox_insert(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    begin(db, Writer::Inbox).await
}

/// SQLite: the inbox writer's write turn, as [`begin_inbox_insert`] takes
/// it. The inbox writer takes it before it gathers its batch, so the batch
/// holds every callback that queued while the other writers held the file
/// ([`InboxTurn::insert`] then writes them).
pub(super) struct InboxTurn {
    writer: DatabaseConnection,
    _turn: Turn,
}

impl InboxTurn {
    pub(super) async fn take(db: &DatabaseConnection) -> Result<InboxTurn, DbErr> {
        let turn = WriteTurns::take(db, Writer::Inbox).await?;
        Ok(InboxTurn { writer: super::sqlite_writer::of(db), _turn: turn })
    }

    /// Run `whole`, a write transaction of new `callback_inbox` rows written
    /// out whole (`BEGIN IMMEDIATE; …; COMMIT`), on the pool's writer in one
    /// call; the turn passes on once it has ended.
    ///
    /// WHY one call: every statement of a transaction is a round trip to
    /// the connection's worker thread, and each wakes a thread on either
    /// side. On a busy machine a woken thread waits for a core: in the
    /// ingest bench the writer thread spent a quarter of its time on the run
    /// queue, and a batch of callbacks (BEGIN, its INSERTs, COMMIT) held the
    /// one writer twice as long as SQLite takes for the same rows alone
    /// (`scripts/inbox_index_cost.py`). One call wakes it once.
    ///
    /// The text stops at its first error, before its COMMIT. SQLite rolls
    /// the transaction back by itself on a full disk or an I/O error; where
    /// it stays open (a failed `OR FAIL` row), the pool's release check
    /// closes the connection as it comes back, which rolls it back
    /// ([`with_release_check`]). Nothing was acknowledged on it either way.
    pub(super) async fn insert(self, whole: Statement) -> Result<(), DbErr> {
        self.writer.execute_raw(whole).await.map(|_| ())
    }
}

async fn begin(db: &DatabaseConnection, writer: Writer) -> Result<WriteTxn, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(WriteTxn { txn: db.begin().await?, _turn: None });
    }
    let turn = WriteTurns::take(db, writer).await?;
    let options =
        TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
    let writer = super::sqlite_writer::of(db);
    Ok(WriteTxn { txn: writer.begin_with_options(options).await?, _turn: Some(turn) })
}

/// Whether any write transaction of this process other than the inbox
/// writer's ended on a SQLite file since [`WriteFence::observe`]: a
/// decision made from reads taken after `observe`, outside any write
/// transaction, is still what the file says if the fence has not moved
/// once the decider holds its write turn (all earlier writers have ended
/// by then, and each moves the fence only after its commit).
///
/// Writes outside [`begin_write`] (statements in autocommit) and other
/// processes on the file are not seen; the processor's writes keep their
/// own per-row fences (pending, in flight) for those.
pub struct WriteFence {
    ended: Arc<AtomicU64>,
    seen: u64,
    inserted: Arc<AtomicU64>,
    inserted_seen: u64,
}

impl WriteFence {
    /// The fence as it stands now; `None` on PostgreSQL (no write turns:
    /// rows are locked by the transaction that applies them instead).
    pub fn observe(db: &DatabaseConnection) -> Option<WriteFence> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return None;
        }
        let WriteTurns { ended, inserted, .. } = WriteTurns::of(db);
        let seen = ended.load(Ordering::SeqCst);
        let inserted_seen = inserted.load(Ordering::SeqCst);
        Some(WriteFence { ended, seen, inserted, inserted_seen })
    }

    /// No fence-moving write transaction ended since [`WriteFence::observe`].
    pub fn unmoved(&self) -> bool {
        self.ended.load(Ordering::SeqCst) == self.seen
    }

    /// The inbox writer took the write turn since [`WriteFence::observe`]
    /// (callbacks are arriving, each waiting for its commit).
    pub fn inbox_inserted(&self) -> bool {
        self.inserted.load(Ordering::SeqCst) != self.inserted_seen
    }
}

/// The write transactions of this process on one SQLite file, one at a
/// time, in the order they asked (a fair queue).
///
/// WHY: SQLite lets one connection write at a time and makes the others
/// poll for the lock, sleeping longer after each miss (up to 100 ms a
/// poll). Two busy writers in one daemon — the inbox writer committing
/// callbacks and the processor applying pages — then took the lock in
/// turns of whoever happened to retry at the right moment: the inbox
/// writer slept through whole pages and callback acknowledgments waited
/// hundreds of milliseconds. Queued here, a writer starts the moment the
/// one before it finishes. (Other processes on the file, such as a
/// `campaignd import`, still meet SQLite's own busy wait.)
#[derive(Clone, Default)]
struct WriteTurns {
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Write transactions that ended, but for the inbox writer's ([`WriteFence`]).
    ended: Arc<AtomicU64>,
    /// Write turns the inbox writer took ([`WriteFence::inbox_inserted`]).
    inserted: Arc<AtomicU64>,
}

impl WriteTurns {
    /// The turns of `db`'s file.
    fn of(db: &DatabaseConnection) -> WriteTurns {
        static TURNS: std::sync::OnceLock<std::sync::Mutex<HashMap<PathBuf, WriteTurns>>> = std::sync::OnceLock::new();
        let file = db.get_sqlite_connection_pool().connect_options().get_filename().to_path_buf();
        let mut turns = TURNS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
        turns.entry(file).or_default().clone()
    }

    async fn take(db: &DatabaseConnection, writer: Writer) -> Result<Turn, DbErr> {
        let turns = WriteTurns::of(db);
        // As long as a write would wait for the lock anyway: a transaction
        // that never ends (a bug) fails the others as SQLite's busy timeout did.
        let limit = db.get_sqlite_connection_pool().options().get_acquire_timeout();
        let held = tokio::time::timeout(limit, turns.turn.lock_owned()).await.map_err(|_| {
            DbErr::Custom(format!(
                "database is locked: another write transaction of this process held it for {}",
                format_duration(limit)
            ))
        })?;
        // The inbox writer's new pending rows move no fence ([`begin_inbox_insert`]).
        let moves_fence = writer != Writer::Inbox;
        if !moves_fence {
            turns.inserted.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Turn { moves: moves_fence.then_some(turns.ended), writer, taken: Instant::now(), _held: held })
    }
}

/// How many write turns the inbox writer took on `db`'s file.
#[cfg(test)]
pub(super) fn inbox_turns_taken(db: &DatabaseConnection) -> u64 {
    WriteTurns::of(db).inserted.load(Ordering::SeqCst)
}

/// A write turn: dropped once its transaction ended (committed, or its
/// rollback queued), it moves the fence, then passes the turn on.
struct Turn {
    moves: Option<Arc<AtomicU64>>,
    writer: Writer,
    /// When it was taken: how long the file's one writer was held, by whom
    /// ([`Writer`]), is `campaignd_sqlite_write_turn_seconds`.
    taken: Instant,
    _held: tokio::sync::OwnedMutexGuard<()>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        metrics::histogram!("campaignd_sqlite_write_turn_seconds", "writer" => self.writer.label())
            .record(self.taken.elapsed().as_secs_f64());
        // Runs before the fields drop: the fence moves before the next
        // writer (or a decider checking the fence) can take the turn.
        if let Some(ended) = &self.moves {
            ended.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A transaction begun by [`begin_write`]: commit it or drop it (dropped, it
/// rolls back). On SQLite it holds the process's write turn until then.
pub struct WriteTxn {
    // Field order matters: the transaction ends (or queues its rollback)
    // before the turn passes to the next writer.
    txn: DatabaseTransaction,
    _turn: Option<Turn>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.txn.is_mock_connection()
    }
}

/// Held for the daemon's lifetime: a second `campaignd run` on the same SQLite
/// file cannot take it and refuses to start. (PostgreSQL instances cooperate
/// through the database instead.)
///
/// Two locks, because a file can be deleted under a running daemon: the
/// flock on `<db>.lock`, and a Linux abstract-namespace unix socket named
/// after the database's canonical path, which has no file to delete and is
/// released only when the process ends. Deleting `campaignd.db*` and the
/// lock file no longer lets a second daemon in; the first one notices with
/// [`InstanceLock::database_replaced`] and stops.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    _name: Option<std::os::unix::net::UnixListener>,
    pub path: PathBuf,
    db: PathBuf,
    /// (device, inode) of the database file once it exists.
    pinned: Option<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another campaignd is already running on {db} (lock file {lock} is held); \
         stop it first, or use PostgreSQL to run several instances"
    )]
    Held { db: String, lock: String },
    #[error(
        "another campaignd is already running on {db} (it holds the instance name @{name}, \
         even though the lock file was deleted: its database file was probably deleted or \
         replaced under it); stop it first (`ss -xlp | grep campaignd` shows its pid)"
    )]
    NameHeld { db: String, name: String },
    #[error("cannot open lock file {lock}: {source}")]
    Io { lock: String, source: std::io::Error },
    #[error("cannot read the database file {db}: {source}")]
    Database { db: String, source: std::io::Error },
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
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(LockError::Held { db: db.display().to_string(), lock: display });
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(LockError::Io { lock: display, source }),
    }
    let name = instance_name(&db);
    let socket = bind_instance_name(&name).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => LockError::NameHeld { db: db.display().to_string(), name: name.clone() },
        _ => LockError::Io { lock: format!("@{name}"), source: e },
    })?;
    Ok(Some(InstanceLock { _file: file, _name: socket, path: lock_path, db, pinned: None }))
}

/// `campaignd-sqlite-<sha256 of the canonical path>`: the same for every
/// spelling of the path (relative, through symlinks), short enough for a
/// socket name whatever the path's length.
fn instance_name(db: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    let canonical = std::fs::canonicalize(db)
        .or_else(|_| {
            // Not created yet: its directory exists (or SQLite will fail anyway).
            let dir = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            Ok::<_, std::io::Error>(std::fs::canonicalize(dir)?.join(db.file_name().unwrap_or_default()))
        })
        .unwrap_or_else(|_| std::path::absolute(db).unwrap_or_else(|_| db.to_path_buf()));
    let digest = Sha256::digest(canonical.as_os_str().as_encoded_bytes());
    format!("campaignd-sqlite-{}", hex::encode(digest))
}

#[cfg(target_os = "linux")]
fn bind_instance_name(name: &str) -> std::io::Result<Option<std::os::unix::net::UnixListener>> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixListener::bind_addr(&addr).map(Some)
}

/// Abstract socket names are Linux-only; elsewhere the flock alone guards.
#[cfg(not(target_os = "linux"))]
fn bind_instance_name(_name: &str) -> std::io::Result<Option<std::os::unix::net::UnixListener>> {
    Ok(None)
}

fn file_id(path: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

impl InstanceLock {
    /// Remember which file the database is; call once it exists (connected
    /// and migrated).
    pub fn pin_database(&mut self) -> Result<(), LockError> {
        let id =
            file_id(&self.db).map_err(|source| LockError::Database { db: self.db.display().to_string(), source })?;
        self.pinned = Some(id);
        Ok(())
    }

    /// Why the database path no longer names the file this daemon has open
    /// (deleted, or replaced by another file), if it does not. Everything
    /// written from then on goes to a file nobody will read again.
    pub fn database_replaced(&self) -> Option<String> {
        let pinned = self.pinned?;
        match file_id(&self.db) {
            Ok(id) if id == pinned => None,
            Ok(_) => Some(format!("database file {} was replaced by another file", self.db.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Some(format!("database file {} was deleted", self.db.display()))
            }
            // Unreadable for a moment (permissions, I/O): not evidence of a
            // replacement; the store's own errors report real I/O trouble.
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_and_locked_in_any_extended_form_are_worth_waiting_for() {
        for code in ["5", "6", "261", "517", "773", "262"] {
            assert!(sqlite_busy(Some(code)), "{code}");
        }
        for code in ["1", "14", "2067", "23505"] {
            assert!(!sqlite_busy(Some(code)), "{code}");
        }
        assert!(!sqlite_busy(None));
    }

    /// Another process holds the fresh file (here: an exclusive transaction
    /// in rollback-journal mode, as while it creates the schema): opening
    /// waits for it instead of failing with "database is locked".
    #[tokio::test]
    async fn opening_waits_while_another_connection_holds_the_file() {
        use sea_orm::sqlx::{ConnectOptions as _, Connection as _, Executor as _};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.db");
        let opts = sea_orm::sqlx::sqlite::SqliteConnectOptions::new().filename(&file).create_if_missing(true);
        let mut holder = opts.connect().await.unwrap();
        holder.execute("CREATE TABLE t (x INTEGER)").await.unwrap();
        holder.execute("BEGIN EXCLUSIVE").await.unwrap();
        let settings = DatabaseSettings {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            busy_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_secs(20),
            ..DatabaseSettings::default()
        };
        let opening = tokio::spawn(async move { connect(&settings).await });
        // Held for well over the busy timeout: the open's first tries fail.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!opening.is_finished(), "the open ended (gave up) while the file was held");
        holder.execute("COMMIT").await.unwrap();
        holder.close().await.unwrap();
        let db = opening.await.unwrap().expect("opened once the file was free");
        db.execute_unprepared("SELECT 1").await.unwrap();
    }

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

    #[test]
    fn deleting_the_lock_file_does_not_let_a_second_instance_in() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
        let _first = lock_sqlite(&url).unwrap().expect("a lock on a SQLite file");
        std::fs::remove_file(dir.path().join("c.db.lock")).unwrap();
        let err = lock_sqlite(&url).unwrap_err();
        assert!(matches!(err, LockError::NameHeld { .. }), "{err}");
        assert!(err.to_string().contains("another campaignd is already running"), "{err}");
    }

    #[test]
    fn the_instance_name_is_the_same_for_every_spelling_of_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("c.db");
        let dotted = dir.path().join(".").join("c.db");
        assert_eq!(instance_name(&plain), instance_name(&dotted));
        std::fs::write(&plain, b"").unwrap();
        assert_eq!(instance_name(&plain), instance_name(&dotted), "before and after the file exists");
        assert_ne!(instance_name(&plain), instance_name(&dir.path().join("d.db")));
    }

    #[test]
    fn a_deleted_or_replaced_database_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("c.db");
        let url = format!("sqlite://{}?mode=rwc", db.display());
        std::fs::write(&db, b"first").unwrap();
        let mut lock = lock_sqlite(&url).unwrap().unwrap();
        lock.pin_database().unwrap();
        assert_eq!(lock.database_replaced(), None);
        // Replaced: a new file at the same path (the old one kept open, so
        // the inode cannot be reused for the new file).
        let _held = File::open(&db).unwrap();
        std::fs::remove_file(&db).unwrap();
        assert!(lock.database_replaced().unwrap().contains("was deleted"));
        std::fs::write(&db, b"second").unwrap();
        assert!(lock.database_replaced().unwrap().contains("was replaced"));
    }
}

//! SQLite: the WAL is copied back into the database file (checkpointed)
//! beside the writer, not by it.
//!
//! WHY: SQLite checkpoints on the connection whose commit took the WAL past
//! `wal_autocheckpoint` pages (1,000 by default). Every write of the daemon
//! commits on one connection, the pool's writer (`store::sqlite_writer`), so
//! every thousandth page the writer stopped to write each page a second time
//! and fsync the file, while every callback, claim and result behind it
//! waited. The ingest profile showed those writes as a third of the
//! writer's `pwrite`s. A checkpoint does not need the write lock: here a
//! connection of its own copies what is committed (`PASSIVE`) every
//! [`CADENCE`], on its own thread, while the writer goes on appending.
//!
//! The writer still checkpoints itself past [`BACKSTOP_PAGES`] (set on every
//! connection by `db::connect_options`), so the WAL stays bounded should
//! this task fall behind, fail or be stopped. It also bounds the WAL file
//! under sustained writes: SQLite starts the file over only when a write
//! begins with every frame already copied, and the writer commits while a
//! round copies. So the file grows to the backstop, where the writer copies
//! the little the last round left (a fraction of what it copied before:
//! 44 of its 1,314 samples in the ingest profile, against 172 of 1,360)
//! and starts it over.

use super::StoreError;
use crate::cadence::Cadence;
use crate::failure_log::FailureLog;
use sea_orm::sqlx::sqlite::SqlitePool;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::time::Duration;

/// How often the checkpointer copies the WAL back. At the writer's fastest
/// (an ingest burst, about one page per row) this is a few hundred pages a
/// round, less than SQLite's own 1,000.
pub const CADENCE: Duration = Duration::from_millis(100);

/// The WAL size, in pages, past which the writer checkpoints itself: 40 MiB
/// at SQLite's 4 KiB pages. Under sustained writes the WAL file starts over
/// there (above); should the checkpointer stop, it bounds the WAL.
pub const BACKSTOP_PAGES: u32 = 10_000;

/// Copy what is committed in `db`'s WAL into the database file, without
/// waiting for writers or readers (`PASSIVE`; a checkpoint another
/// connection is running makes this one a no-op, not an error).
pub async fn checkpoint<C: ConnectionTrait>(db: &C) -> Result<(), StoreError> {
    db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await?;
    Ok(())
}

/// Checkpoint `db`'s file every [`CADENCE`] on `conn` (a pool of one
/// connection opened like `db`'s), until `db` closes (`sqlite_writer`
/// closes `conn` then).
pub(super) fn spawn(db: &DatabaseConnection, conn: SqlitePool) {
    let closed = db.get_sqlite_connection_pool().close_event();
    let conn = DatabaseConnection::from(conn);
    tokio::spawn(async move {
        let mut failures = FailureLog::new("checkpointing the SQLite WAL");
        let mut every = Cadence::every(CADENCE);
        tokio::pin!(closed);
        while every.next(&mut closed).await {
            match checkpoint(&conn).await {
                Ok(_) => failures.succeeded(),
                // Closed while this round ran: the database is going away.
                Err(_) if conn.get_sqlite_connection_pool().is_closed() => break,
                Err(e) => failures.failed(&e),
            }
        }
    });
}

#[cfg(test)]
#[path = "wal_checkpoints_tests.rs"]
mod tests;

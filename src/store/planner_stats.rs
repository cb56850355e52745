//! PostgreSQL's planner statistics of the daemon's tables: how much each
//! changed since its last `ANALYZE`, and the `ANALYZE` itself. When to run
//! it is decided in `domain::planner_stats`; the loop is `crate::planner_stats`.

use super::StoreError;
use super::db::{Writer, begin_write};
use crate::domain::planner_stats::TableChanges;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// The tables whose queries' plans depend on how many rows they hold and in
/// which states: queues and logs that grow or turn over in bursts. (The
/// others hold a row per campaign, vendor or lease.)
pub const TABLES: [&str; 9] = [
    "attempts",
    "callback_inbox",
    "contacts",
    "decisions",
    "dials",
    "forward_outbox",
    "inbox_waits",
    "suppressions",
    "vendor_tasks",
];

/// Whether this database's statistics are the daemon's to keep: on
/// PostgreSQL. (SQLite's planner is steered with hints, `store::plan_hints`.)
pub fn kept_by_the_daemon<C: ConnectionTrait>(db: &C) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Each of [`TABLES`] in the current schema that the daemon's role may
/// `ANALYZE`, with what the server counted of its changes. A table the role
/// neither owns nor belongs to the owner of would be skipped by the server
/// with a warning, every round: it stays with autovacuum. Empty on SQLite,
/// whose planner the daemon steers with hints instead (`store::plan_hints`).
pub async fn changes<C: ConnectionTrait>(db: &C) -> Result<Vec<(&'static str, TableChanges)>, StoreError> {
    if !kept_by_the_daemon(db) {
        return Ok(Vec::new());
    }
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT s.relname::text AS name, c.reltuples::float8 AS rows, s.n_mod_since_analyze::int8 AS changed \
         FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() AND s.relname = ANY(string_to_array($1, ',')) \
         AND pg_has_role(c.relowner, 'USAGE')",
        [TABLES.join(",").into()],
    );
    let mut out = Vec::with_capacity(TABLES.len());
    for row in db.query_all_raw(stmt).await? {
        let name: String = row.try_get("", "name")?;
        let Some(table) = TABLES.iter().copied().find(|t| *t == name) else { continue };
        let changes =
            TableChanges { rows_at_last_analyze: row.try_get("", "rows")?, changed_since: row.try_get("", "changed")? };
        out.push((table, changes));
    }
    Ok(out)
}

/// The statistics target of the daemon's `ANALYZE` (the server's default
/// is 100). `ANALYZE` samples 300 rows per unit of target, so this reads
/// 3,000 rows instead of 30,000 and keeps 10 common values and 10 histogram
/// buckets per column. That is what these tables' plans turn on: how many
/// rows a table holds and what share of them is in each state (a handful of
/// values), not the fine shape of ids or times. The default's cost was the
/// daemon's largest single load on a 2-core server during a burst: 200–330 ms
/// per `ANALYZE` of a 50,000-row inbox, whose bodies and headers are read and
/// compared for every sampled row; at this target, 16 ms (measured in
/// psql; docs/benchmarks.md). Columns given a target of their own keep it.
pub const SAMPLE_TARGET: u32 = 10;

/// `ANALYZE` one of [`TABLES`], unless another instance is analyzing it
/// right now (then false: its fresh statistics serve everyone). It reads a
/// sample of the table ([`SAMPLE_TARGET`]) and blocks no reads or writes;
/// two `ANALYZE`s of one table would queue behind each other.
pub async fn analyze(db: &DatabaseConnection, table: &'static str) -> Result<bool, StoreError> {
    assert!(TABLES.contains(&table), "ANALYZE only of the daemon's own tables, by their fixed names");
    let txn = begin_write(db, Writer::Other).await?;
    let stmt = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS got",
        [format!("campaignd:analyze:{table}").into()],
    );
    let got = match txn.query_one_raw(stmt).await? {
        Some(row) => row.try_get::<bool>("", "got")?,
        None => false,
    };
    if got {
        // `SET LOCAL`: the target ends with this transaction, so the pooled
        // connection returns with the server's default.
        txn.execute_unprepared(&format!("SET LOCAL default_statistics_target = {SAMPLE_TARGET}")).await?;
        txn.execute_unprepared(&format!("ANALYZE \"{table}\"")).await?;
    }
    txn.commit().await?;
    Ok(got)
}

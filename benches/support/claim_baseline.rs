//! The dispatch figure's same-run baseline: the least a claim loop must do on
//! the same schema, written by hand. Per batch it selects the campaign's due
//! contacts (the same `ix_contacts_campaign_due` range scan as the daemon's
//! claim), inserts their attempts `dispatching` and puts the contacts in
//! flight, commits, then marks the attempts `dispatched` and commits again —
//! two commits, like the daemon, because an attempt must be durable before a
//! vendor may be asked to dial it. No policy, no audit rows, no vendor task,
//! no HTTP: what is left is the store's own cost of the rows a dispatch
//! touches. On PostgreSQL the daemon's planner-statistics round
//! (`campaignd::planner_stats::refresh`) runs beside it every second, as it
//! runs beside the daemon's claims: both are planned from the same counts.

use super::config::CAMPAIGN;
use super::count;
use anyhow::Context as _;
use campaignd::store::{campaigns, db};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Rows per INSERT: 13 parameters each stays far below either backend's limit.
const INSERT_CHUNK: usize = 500;

/// What the loop did.
pub struct Baseline {
    pub elapsed: Duration,
    pub batches: u32,
}

/// Claim every due contact of the benchmark campaign in batches of `batch`,
/// on a database that already holds them (imported, none claimed yet).
pub async fn run(conn: &DatabaseConnection, contacts: u64, batch: u32) -> anyhow::Result<Baseline> {
    let campaign_id = campaigns::find_by_name(conn, CAMPAIGN).await?.id;
    let stats = CancellationToken::new();
    tokio::spawn({
        let (conn, stop) = (conn.clone(), stats.clone());
        // The daemon's default `database.analyze_every`.
        async move { campaignd::planner_stats::run_every(&conn, Duration::from_secs(1), stop).await }
    });
    let started = Instant::now();
    let mut batches = 0;
    loop {
        let ids = claim_batch(conn, campaign_id, batch).await?;
        if ids.is_empty() {
            break;
        }
        mark_dispatched(conn, &ids).await?;
        batches += 1;
    }
    let elapsed = started.elapsed();
    stats.cancel();
    let dispatched = count(conn, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await?;
    let attempts = count(conn, "SELECT COUNT(*) FROM attempts").await?;
    let left = count(conn, "SELECT COUNT(*) FROM contacts WHERE due_at IS NOT NULL").await?;
    anyhow::ensure!(
        dispatched as u64 == contacts,
        "baseline dispatched {dispatched} of {contacts} contacts ({attempts} attempts, {left} contacts left due)"
    );
    Ok(Baseline { elapsed, batches })
}

/// One transaction: select, insert the attempts, put the contacts in flight.
pub async fn claim_batch(conn: &DatabaseConnection, campaign_id: i64, batch: u32) -> anyhow::Result<Vec<i64>> {
    let backend = conn.get_database_backend();
    let now = chrono::Utc::now();
    let lease_until = now + chrono::Duration::minutes(2);
    let txn = db::begin_write(conn, db::Writer::Other).await?;
    let skip_locked = if backend == DbBackend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let select = format!(
        "SELECT id, phone, case_id, zones, variables, attempt_seq FROM contacts \
         WHERE campaign_id = {} AND due_at <= {} ORDER BY due_at LIMIT {}{skip_locked}",
        param(backend, 1),
        param(backend, 2),
        param(backend, 3),
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            select,
            [campaign_id.into(), now.into(), i64::from(batch).into()],
        ))
        .await?;
    let mut ids = Vec::with_capacity(rows.len());
    let mut attempts: Vec<[Value; 13]> = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("", "id")?;
        let phone: String = row.try_get("", "phone")?;
        let case_id: Option<String> = row.try_get("", "case_id")?;
        let _zones: Option<String> = row.try_get("", "zones")?;
        let _variables: serde_json::Value = row.try_get("", "variables")?;
        let attempt_no = row.try_get::<i32>("", "attempt_seq")? + 1;
        ids.push(id);
        attempts.push([
            campaign_id.into(),
            id.into(),
            attempt_no.into(),
            "sim".into(),
            format!("baseline-{id}-{attempt_no}").into(),
            "dispatching".into(),
            now.into(),
            now.into(),
            phone.into(),
            case_id.into(),
            1i32.into(),
            "baseline".into(),
            lease_until.into(),
        ]);
    }
    if ids.is_empty() {
        return Ok(ids);
    }
    for chunk in attempts.chunks(INSERT_CHUNK) {
        let width = chunk[0].len();
        let tuples: Vec<String> =
            (0..chunk.len()).map(|i| format!("({})", params(backend, 1 + i * width, width))).collect();
        let sql = format!(
            "INSERT INTO attempts (campaign_id, contact_id, attempt_no, vendor_id, attempt_ref, state, created_at, \
             updated_at, phone, case_id, max_dials, lease_owner, lease_expires_at) VALUES {}",
            tuples.join(", ")
        );
        let values: Vec<Value> = chunk.iter().flat_map(|row| row.iter().cloned()).collect();
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    }
    let sql = format!(
        "UPDATE contacts SET state = 'in_flight', due_at = NULL, attempt_seq = attempt_seq + 1, \
         last_vendor_id = 'sim', updated_at = {} WHERE id IN ({})",
        param(backend, 1),
        params(backend, 2, ids.len())
    );
    let values = std::iter::once(now.into()).chain(ids.iter().map(|&id| id.into()));
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    txn.commit().await.context("committing a baseline claim")?;
    Ok(ids)
}

/// The vendor's answer written back: one UPDATE for the batch.
async fn mark_dispatched(conn: &DatabaseConnection, contact_ids: &[i64]) -> anyhow::Result<()> {
    let backend = conn.get_database_backend();
    let now = chrono::Utc::now();
    let txn = db::begin_write(conn, db::Writer::Other).await?;
    let sql = format!(
        "UPDATE attempts SET state = 'dispatched', external_call_id = 'call-' || attempt_ref, dispatched_at = {}, \
         deadline_at = {}, updated_at = {} WHERE state = 'dispatching' AND contact_id IN ({})",
        param(backend, 1),
        param(backend, 2),
        param(backend, 3),
        params(backend, 4, contact_ids.len()),
    );
    let deadline = now + chrono::Duration::hours(1);
    let values = [now.into(), deadline.into(), now.into()].into_iter().chain(contact_ids.iter().map(|&id| id.into()));
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    txn.commit().await.context("committing a baseline write-back")?;
    Ok(())
}

/// The `n`th (1-based) bound parameter; values are bound in text order.
/// SQLite gets plain `?`: sqlx looks up each numbered parameter's name while
/// binding, a linear scan in SQLite, so thousands of `?n` cost n²/2 steps.
fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_string(),
    }
}

/// `count` parameters from the `first`th on, comma-separated.
fn params(backend: DbBackend, first: usize, count: usize) -> String {
    (first..first + count).map(|n| param(backend, n)).collect::<Vec<_>>().join(", ")
}

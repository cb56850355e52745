//! Looking at several daemon instances sharing one PostgreSQL database: who
//! leads, what each holds, what each logged.

use super::{API_KEY, rows, scalar};
use sea_orm::DatabaseConnection;
use std::path::PathBuf;
use std::time::Duration;

/// Who holds the leader lease now, if anyone.
pub async fn leader(conn: &DatabaseConnection) -> Option<String> {
    rows(conn, "SELECT owner FROM leases WHERE name = 'leader' AND expires_at > now()")
        .await
        .first()
        .map(|r| r.try_get_by_index::<String>(0).expect("owner"))
}

/// The `dispatching` attempts for `vendor` leased to `owner`.
pub async fn leased_to(conn: &DatabaseConnection, owner: &str, vendor: &str) -> Vec<String> {
    let sql = format!(
        "SELECT attempt_ref FROM attempts WHERE state = 'dispatching' AND lease_owner = '{owner}' \
         AND vendor_id = '{vendor}' ORDER BY attempt_ref"
    );
    strings(conn, &sql).await
}

/// Some when one of `owner`'s connections waits for a lock on a rate-limit
/// bucket (`vendor_limits.tokens`). Instances name their connections after
/// themselves (`application_name` in the database URL).
pub async fn waiting_for_token(conn: &DatabaseConnection, owner: &str) -> Option<()> {
    let sql = format!(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{owner}' \
         AND wait_event_type = 'Lock' AND query LIKE '%\"tokens\"%'"
    );
    (scalar(conn, &sql).await > 0).then_some(())
}

/// Poll `check` for up to `timeout`: whether it said yes. (For a condition
/// that may not come, where `poll_until` would fail the test.)
pub async fn within<F, Fut>(timeout: Duration, check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    super::poll_for(timeout, Duration::from_millis(10), check).await.is_some()
}

/// The references the simulator at `sim_url` has never received.
pub async fn unknown_to_sim(sim_url: &str, refs: &[String]) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut unknown = Vec::new();
    for r in refs {
        let answer =
            http.get(format!("{sim_url}/v1/calls/{r}")).bearer_auth(API_KEY).send().await.expect("ask the sim");
        match answer.status() {
            reqwest::StatusCode::NOT_FOUND => unknown.push(r.clone()),
            s => assert!(s.is_success(), "sim answered {s} for {r}"),
        }
    }
    unknown
}

/// The first column of every row, as text.
pub async fn strings(conn: &DatabaseConnection, sql: &str) -> Vec<String> {
    rows(conn, sql).await.iter().map(|r| r.try_get_by_index::<String>(0).expect("text column")).collect()
}

/// `(text, count)` rows.
pub async fn counts(conn: &DatabaseConnection, sql: &str) -> Vec<(String, i64)> {
    rows(conn, sql)
        .await
        .iter()
        .map(|r| (r.try_get_by_index::<String>(0).expect("key"), r.try_get_by_index::<i64>(1).expect("count")))
        .collect()
}

/// `'a','b'` for an SQL `IN (...)` (test-made values, no quotes in them).
pub fn sql_list(items: &[String]) -> String {
    items.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",")
}

/// Print each instance's warnings and errors, counted by message; fail on
/// any deadlock the database had to break.
pub fn report_logs(logs: &[PathBuf]) {
    let mut deadlocks = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).expect("read daemon log");
        let mut by_message: std::collections::BTreeMap<String, usize> = Default::default();
        for line in text.lines().map(strip_ansi).filter(|l| l.contains(" WARN ") || l.contains(" ERROR ")) {
            // The message: what follows the target, cut before most fields.
            let msg = line.split_once(": ").map_or(line.as_str(), |(_, m)| m);
            *by_message.entry(msg.chars().take(70).collect()).or_default() += 1;
            if line.contains("deadlock") {
                deadlocks.push(line.clone());
            }
        }
        eprintln!("{}: {by_message:#?}", log.file_name().expect("log file name").to_string_lossy());
    }
    assert!(deadlocks.is_empty(), "deadlocks: {deadlocks:#?}");
}

/// The log line without its colour codes (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| *c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

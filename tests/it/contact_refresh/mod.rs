//! Scheduled contact refresh (issue 16, item 2), with the real daemon: a
//! cron schedule firing every two seconds over a drop folder and over a URL,
//! a simulator dialing what the refresh imports, and the run records read
//! back through the CLI and the admin API.

mod drop_folder;
mod shared_database;
mod url_source;

use crate::common::{ConfigSpec, TestDb, fast_sim, rows};
use doubles::sim::SimSettings;
use sea_orm::DatabaseConnection;
use std::path::Path;

pub const ADMIN_TOKEN: &str = "refresh-admin-token";

/// A simulator whose every call goes unanswered, so that every contact
/// stays open (retried each second) until something stops it.
pub fn never_answering_sim() -> SimSettings {
    let mut outcomes = std::collections::BTreeMap::new();
    outcomes.insert("NO_ANSWER".to_string(), 1.0);
    SimSettings { outcomes, ..fast_sim(0.0) }
}

/// The harness's campaign `e2e`, retried every second without end, with
/// `refresh` as its `[campaigns.refresh]` table and `scheduler` added.
pub fn config(db_url: &str, sim_url: &str, scheduler: &str, refresh: &str) -> String {
    let spec = ConfigSpec { extra_scheduler: scheduler, ..ConfigSpec::new(db_url, sim_url) };
    let text = spec
        .render()
        .replace("max_body_bytes = 4096", &format!("max_body_bytes = 4096\nadmin_token = \"{ADMIN_TOKEN}\""))
        .replace("max_attempts = 3", "max_attempts = 1000")
        .replace("max = 2", "max = 1000");
    assert!(text.contains("max_attempts = 1000") && text.contains("max = 1000"), "the harness's recall changed");
    format!("{text}\n[campaigns.refresh]\n{refresh}\n")
}

pub fn write_config(db: &TestDb, text: &str) -> std::path::PathBuf {
    let path = db.path("config.toml");
    std::fs::write(&path, text).expect("write config");
    path
}

/// A CSV of the harness's columns with these national numbers.
pub fn write_list(path: &Path, phones: &[&str]) {
    let mut text = String::from("phone,case_id,name\n");
    for (i, p) in phones.iter().enumerate() {
        text.push_str(&format!("{p},CASE-{i},Debtor {i}\n"));
    }
    std::fs::write(path, text).expect("write list");
}

/// One stored run: (id, trigger, state, source, added, removed, rejected, error).
pub type Run = (i64, String, String, String, i64, i64, i64, Option<String>);

pub async fn runs(conn: &DatabaseConnection) -> Vec<Run> {
    rows(
        conn,
        "SELECT id, \"trigger\", state, source, added, removed, rejected, error FROM contact_refresh_runs ORDER BY id",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get_by_index(0).unwrap(),
            r.try_get_by_index(1).unwrap(),
            r.try_get_by_index(2).unwrap(),
            r.try_get_by_index(3).unwrap(),
            r.try_get_by_index(4).unwrap(),
            r.try_get_by_index(5).unwrap(),
            r.try_get_by_index(6).unwrap(),
            r.try_get_by_index(7).unwrap(),
        )
    })
    .collect()
}

/// Attempts made so far for the campaign's contact `phone` (E.164).
pub async fn attempts_of(conn: &DatabaseConnection, phone: &str) -> i64 {
    crate::common::scalar(
        conn,
        &format!("SELECT COUNT(*) FROM attempts a JOIN contacts c ON c.id = a.contact_id WHERE c.phone = '{phone}'"),
    )
    .await
}

pub async fn state_of(conn: &DatabaseConnection, phone: &str) -> String {
    let r = rows(conn, &format!("SELECT state FROM contacts WHERE phone = '{phone}'")).await;
    r.first().map(|r| r.try_get_by_index::<String>(0).unwrap()).unwrap_or_default()
}

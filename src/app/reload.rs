//! What a SIGHUP reload changes: the new settings as they will run, and the
//! changes in words for the log. Pure: a function of the running and the
//! newly loaded settings.
//!
//! Some settings cannot change under a running daemon: the database pool
//! (`[database]`), the listening socket (`http.listen`), the name this
//! instance holds leases under (`scheduler.instance_id`) and the vendors
//! running inside the daemon (`embedded_listen`: their calls in progress live
//! in them). A reload keeps their running values, says they need a restart,
//! and applies everything else — refusing the whole file for one of them
//! would leave the operator unable to change anything else until a restart.

use crate::config::{Settings, VendorSettings};
use std::collections::BTreeSet;

/// The settings a reload runs with, and what it changes.
#[derive(Debug)]
pub struct Plan {
    /// The loaded settings, with the running value kept for every setting
    /// that needs a restart.
    pub settings: Settings,
    /// What applies now, e.g. `campaign demo changed`, `vendor sim-b added`.
    pub applied: Vec<String>,
    /// Settings whose new value waits for a restart, e.g. `http.listen`.
    pub needs_restart: Vec<String>,
    /// Vendors that run on as they are (same settings): their handles,
    /// circuit state and embedded simulators are kept.
    pub unchanged_vendors: BTreeSet<String>,
}

/// Compare by the `Debug` text: it covers every field, including ones added
/// later, in a stable order (no hash maps in settings). Secrets print as
/// `***` there, so they are compared by value separately.
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn same_vendor(a: &VendorSettings, b: &VendorSettings) -> bool {
    same(a, b)
        && a.api_key == b.api_key
        && a.api_secret == b.api_secret
        && a.callback_secret == b.callback_secret
        && a.callback_token == b.callback_token
}

pub fn plan(running: &Settings, mut loaded: Settings) -> Plan {
    let mut applied = Vec::new();
    let mut needs_restart = Vec::new();
    let mut unchanged_vendors = BTreeSet::new();

    if !same(&running.database, &loaded.database) {
        needs_restart.push("[database]".to_string());
        loaded.database = running.database.clone();
    }
    if running.http.listen != loaded.http.listen {
        needs_restart.push("http.listen".to_string());
        loaded.http.listen = running.http.listen;
    }
    if running.scheduler.instance_id != loaded.scheduler.instance_id {
        needs_restart.push("scheduler.instance_id".to_string());
        loaded.scheduler.instance_id = running.scheduler.instance_id.clone();
    }
    if !same(&running.http, &loaded.http) || running.http.admin_token != loaded.http.admin_token {
        applied.push("[http]".to_string());
    }
    if !same(&running.scheduler, &loaded.scheduler) {
        applied.push("[scheduler]".to_string());
    }
    if !same(&running.compliance, &loaded.compliance) {
        applied.push("[compliance]".to_string());
    }

    for v in &mut loaded.vendors {
        let Some(old) = running.vendors.iter().find(|o| o.id == v.id) else {
            applied.push(format!("vendor {} added", v.id));
            continue;
        };
        if same_vendor(old, v) {
            unchanged_vendors.insert(v.id.clone());
            continue;
        }
        if old.embedded_listen.is_some() || v.embedded_listen.is_some() {
            needs_restart.push(format!("vendor {} (runs inside the daemon)", v.id));
            *v = old.clone();
            unchanged_vendors.insert(v.id.clone());
        } else {
            applied.push(format!("vendor {} changed", v.id));
        }
    }
    let kept: BTreeSet<&str> = loaded.vendors.iter().map(|v| v.id.as_str()).collect();
    for old in running.vendors.iter().filter(|o| !kept.contains(o.id.as_str())) {
        applied.push(format!("vendor {} removed", old.id));
    }

    for c in &loaded.campaigns {
        match running.campaigns.iter().find(|o| o.name == c.name) {
            None => applied.push(format!("campaign {} added", c.name)),
            Some(old) if !same(old, c) => applied.push(format!("campaign {} changed", c.name)),
            Some(_) => {}
        }
    }
    let names: BTreeSet<&str> = loaded.campaigns.iter().map(|c| c.name.as_str()).collect();
    for old in running.campaigns.iter().filter(|o| !names.contains(o.name.as_str())) {
        // sync_from_config never deletes: the row and its contacts stay.
        applied.push(format!("campaign {} no longer in the config (left in the database as it is)", old.name));
    }

    Plan { settings: loaded, applied, needs_restart, unchanged_vendors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::path::Path;

    const BASE: &str = r#"
[database]
url = "sqlite://x.db?mode=rwc"
[http]
listen = "127.0.0.1:8080"
[[vendors]]
id = "a"
kind = "sim"
base_url = "http://127.0.0.1:1"
api_key = "k"
callback_secret = "s"
max_concurrency = 5
[[vendors]]
id = "emb"
kind = "sim"
embedded_listen = "127.0.0.1:0"
api_key = "k"
callback_secret = "s"
max_concurrency = 5
[[campaigns]]
name = "c"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 5
vendors = ["a"]
[campaigns.recall]
max_attempts = 1
default = { action = "stop" }
"#;

    fn settings(text: &str) -> Settings {
        crate::config::parse(text, Path::new("config.toml"), Path::new("."), &crate::vendors::Kinds)
            .expect("valid test config")
    }

    #[test]
    fn the_same_file_changes_nothing() {
        let p = plan(&settings(BASE), settings(BASE));
        assert!(p.applied.is_empty() && p.needs_restart.is_empty() && p.unchanged_vendors.len() == 2, "{p:?}");
    }

    #[test]
    fn campaign_and_vendor_changes_apply() {
        let edited = BASE.replace("max_concurrency = 5\nvendors", "max_concurrency = 7\nvendors").replacen(
            "max_concurrency = 5",
            "max_concurrency = 9",
            1,
        );
        let p = plan(&settings(BASE), settings(&edited));
        assert_eq!(p.applied, ["vendor a changed", "campaign c changed"]);
        assert!(p.needs_restart.is_empty());
        assert_eq!(p.settings.campaigns[0].max_concurrency, 7);
        assert_eq!(p.settings.vendors[0].max_concurrency, 9);
        assert_eq!(p.unchanged_vendors, BTreeSet::from(["emb".to_string()]));
    }

    #[test]
    fn a_changed_secret_is_a_change_although_debug_hides_it() {
        let running = settings(BASE);
        let mut loaded = settings(BASE);
        loaded.vendors[0].api_key = Some(Secret::new("rotated"));
        assert_eq!(plan(&running, loaded).applied, ["vendor a changed"]);
    }

    #[test]
    fn restart_only_settings_keep_their_running_value_and_the_rest_applies() {
        let edited = BASE
            .replace("sqlite://x.db", "sqlite://y.db")
            .replace("127.0.0.1:8080", "127.0.0.1:9090")
            .replace(
                "embedded_listen = \"127.0.0.1:0\"\napi_key = \"k\"\ncallback_secret = \"s\"\nmax_concurrency = 5",
                "embedded_listen = \"127.0.0.1:0\"\napi_key = \"k\"\ncallback_secret = \"s\"\nmax_concurrency = 6",
            )
            .replace("name = \"c\"", "name = \"d\"");
        let running = settings(BASE);
        let p = plan(&running, settings(&edited));
        // (The default instance_id is made of the listening port.)
        assert_eq!(
            p.needs_restart,
            ["[database]", "http.listen", "scheduler.instance_id", "vendor emb (runs inside the daemon)"]
        );
        assert_eq!(p.settings.scheduler.instance_id, running.scheduler.instance_id);
        assert_eq!(p.settings.database.url, running.database.url);
        assert_eq!(p.settings.http.listen, running.http.listen);
        assert_eq!(p.settings.vendors[1].max_concurrency, 5, "the embedded vendor runs as started");
        assert_eq!(
            p.applied,
            ["campaign d added", "campaign c no longer in the config (left in the database as it is)"]
        );
    }
}

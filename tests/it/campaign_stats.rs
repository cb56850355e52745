//! `GET /api/v1/campaigns/{name}/stats`: a small campaign runs against the
//! simulator, and its statistics are checked against the export and the
//! database, counted here independently of the daemon.

use crate::common;

use common::daemon::{Daemon, cli};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const TOKEN: &str = "s3cret";
const CONTACTS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_agree_with_the_export_and_the_database() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let spec =
        ConfigSpec { contacts: CONTACTS, campaign_cap: 6, vendor_caps: (4, 3), ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let daemon = Daemon::start(&config);
    let conn = db.connect().await;
    let http = reqwest::Client::new();
    let url = daemon.url("/api/v1/campaigns/e2e/stats");

    // The token is needed; an unknown campaign is named in the 404.
    assert_eq!(http.get(&url).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(http.get(&url).bearer_auth("wrong").send().await.unwrap().status().as_u16(), 401);
    let r = http.get(daemon.url("/api/v1/campaigns/nope/stats")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "no campaign named `nope`");
    let r = http.get(daemon.url("/api/v1/campaigns/e%002e/stats")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "a control character in the name");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "path segment 4: contains a NUL character (%00)", "names the campaign's segment");

    // While it runs: the caps hold and the open work is what is not finished.
    let running: Value = http.get(&url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(running["contacts"]["total"], CONTACTS as u64, "{running}");
    assert!(running["in_flight"]["total"].as_u64().unwrap() <= 6, "{running}");
    assert_eq!(running["in_flight"]["campaign_cap"], 6);
    let open = ["pending", "in_flight", "waiting_retry"]
        .iter()
        .map(|s| running["contacts"]["by_state"][s].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(running["eta"]["open_work"]["min"], open, "{running}");
    assert!(running["eta"]["open_work"]["max"].as_u64().unwrap() <= open * 3, "at most max_attempts each: {running}");

    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let stats: Value = http.get(&url).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["state"], "completed");

    // Contacts by state: the export's, every state listed.
    let out = cli(&config, &["export", "--campaign", "e2e", "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let export: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut by_state: BTreeMap<String, u64> =
        ["pending", "in_flight", "waiting_retry", "done", "exhausted", "stopped", "suppressed"]
            .iter()
            .map(|s| (s.to_string(), 0))
            .collect();
    for row in &export {
        *by_state.get_mut(row["state"].as_str().unwrap()).expect("a known state") += 1;
    }
    assert_eq!(stats["contacts"]["by_state"], serde_json::to_value(&by_state).unwrap(), "{stats}");
    assert_eq!(stats["contacts"]["total"], export.len() as u64);
    assert!(by_state["done"] > 0 && by_state["exhausted"] > 0, "a mixed run: {by_state:?}");

    // Attempts: as many as the export says were made, split as the database has them.
    let made: i64 = export.iter().map(|r| r["attempts"].as_i64().unwrap()).sum();
    assert_eq!(stats["attempts"]["total"], made, "{stats}");
    assert_eq!(stats["attempts"]["in_flight"], 0);
    for (key, column) in [("by_disposition", "disposition"), ("by_intent", "intent"), ("by_vendor", "vendor_id")] {
        let counted = group_counts(&conn, column).await;
        let reported = stats["attempts"][key].as_object().unwrap();
        for (value, n) in &counted {
            assert_eq!(reported[value], *n, "{key} {value}: {stats}");
        }
        let nonzero = reported.values().filter(|n| n.as_u64() != Some(0)).count();
        assert_eq!(nonzero, counted.len(), "{key}: {stats}");
    }
    assert_eq!(stats["attempts"]["by_disposition"]["vendor_error"], 0, "every disposition listed");

    // Rates, from the database's counts by their definitions.
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    let connected = "state = 'completed' AND disposition IN ('answered', 'voicemail')";
    let connected_n = scalar(&conn, &format!("SELECT COUNT(*) FROM attempts WHERE {connected}")).await;
    let right_party = scalar(
        &conn,
        &format!("SELECT COUNT(*) FROM attempts WHERE {connected} AND intent NOT IN ('wrong_person', 'unknown')"),
    )
    .await;
    let ptp =
        scalar(&conn, &format!("SELECT COUNT(*) FROM attempts WHERE {connected} AND intent = 'promise_to_pay'")).await;
    assert!(connected_n > 0 && right_party > 0 && ptp > 0 && right_party < connected_n, "a mixed run");
    for (rate, num, den) in [
        ("contact", connected_n, completed),
        ("right_party", right_party, connected_n),
        ("promise_to_pay", ptp, connected_n),
    ] {
        let r = &stats["rates"][rate];
        assert_eq!((r["numerator"].as_i64(), r["denominator"].as_i64()), (Some(num), Some(den)), "{rate}: {r}");
        // Within a rounding of the JSON number's parse.
        let value = r["value"].as_f64().unwrap();
        assert!((value - num as f64 / den as f64).abs() < 1e-12, "{rate}: {r}");
    }

    // Nothing in flight against the configured caps; the window is always
    // open; a completed campaign is done now.
    let vendors = stats["in_flight"]["vendors"].as_array().unwrap();
    let caps: Vec<(&str, u64, u64)> = vendors
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), v["in_flight"].as_u64().unwrap(), v["max_concurrency"].as_u64().unwrap()))
        .collect();
    assert_eq!(caps, [("sim-a", 0, 4), ("sim-b", 0, 3)]);
    assert_eq!(
        (stats["window"]["open"].as_bool(), stats["window"]["timezone"].as_str()),
        (Some(true), Some("Asia/Jakarta"))
    );
    assert_eq!(stats["eta"]["reason"], "finished", "{stats}");
    assert_eq!(stats["eta"]["at"], stats["at"]);
    assert_eq!(stats["eta"]["open_work"], serde_json::json!({ "min": 0, "max": 0 }));
    // The whole run took seconds: every finished attempt is in the last 15
    // minutes' pace (4 such periods an hour).
    let finished = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE completed_at IS NOT NULL").await;
    assert!(finished > 0);
    assert_eq!(stats["eta"]["attempts_per_hour"].as_f64(), Some(4.0 * finished as f64), "{stats}");
    drop(daemon);
}

/// Attempts of the test's only campaign counted by `column`, nulls left out.
async fn group_counts(conn: &sea_orm::DatabaseConnection, column: &str) -> BTreeMap<String, i64> {
    let sql = format!("SELECT {column} AS v, COUNT(*) AS n FROM attempts WHERE {column} IS NOT NULL GROUP BY {column}");
    rows(conn, &sql)
        .await
        .iter()
        .map(|r| (r.try_get::<String>("", "v").unwrap(), r.try_get::<i64>("", "n").unwrap()))
        .collect()
}

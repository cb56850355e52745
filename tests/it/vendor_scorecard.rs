//! `GET /api/v1/vendors/scorecard`: a small campaign runs against the
//! simulator through two vendors, and each vendor's scorecard is checked
//! against the database's own counts, taken here by the definitions in
//! `docs/http.md`.

use crate::common;

use common::daemon::Daemon;
use common::{ConfigSpec, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const TOKEN: &str = "s3cret";
const VENDORS: [&str; 2] = ["sim-a", "sim-b"];
/// A period holding every attempt of the run.
const WIDE: &str = "from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecards_agree_with_the_database_per_vendor() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 40, campaign_cap: 6, vendor_caps: (4, 3), ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let daemon = Daemon::start(&config);
    let conn = db.connect().await;
    let http = reqwest::Client::new();
    let get = |query: &str| {
        let request = http.get(daemon.url(&format!("/api/v1/vendors/scorecard?{query}")));
        async move { request.bearer_auth(TOKEN).send().await.unwrap() }
    };

    // The token is needed; a bad period is refused naming its parameter.
    let url = daemon.url("/api/v1/vendors/scorecard");
    assert_eq!(http.get(&url).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(http.get(&url).bearer_auth("wrong").send().await.unwrap().status().as_u16(), 401);
    for (query, starts) in [
        ("from=yesterday", "from: `yesterday` is not an RFC 3339 time"),
        ("to=2026-13-01T00:00:00Z", "to: `2026-13-01T00:00:00Z` is not an RFC 3339 time"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from: "),
    ] {
        let r = get(query).await;
        assert_eq!(r.status().as_u16(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().starts_with(starts), "{query}: {body}");
    }

    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    let card: Value = get(WIDE).await.json().await.unwrap();
    assert_eq!(
        (card["from"].as_str(), card["to"].as_str()),
        (Some("2000-01-01T00:00:00Z"), Some("2100-01-01T00:00:00Z"))
    );
    let vendors = card["vendors"].as_array().unwrap();
    assert_eq!(vendors.iter().map(|v| v["id"].as_str().unwrap()).collect::<Vec<_>>(), VENDORS, "{card}");

    let connected = "state = 'completed' AND disposition IN ('answered', 'voicemail')";
    let counts = [
        ("dials", "SELECT vendor_id AS v, COUNT(*) AS n FROM dials GROUP BY vendor_id".to_string()),
        ("attempts", per_vendor("1 = 1")),
        ("completed", per_vendor("state = 'completed'")),
        ("connected", per_vendor(connected)),
        ("conversations", per_vendor("state = 'completed' AND intent IS NOT NULL AND intent <> 'unknown'")),
    ];
    let mut db_counts: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    for (field, sql) in &counts {
        db_counts.insert(field, pairs(&conn, sql).await);
    }
    for v in vendors {
        let id = v["id"].as_str().unwrap();
        assert_eq!(v["configured"], true);
        for (field, _) in &counts {
            let n = db_counts[field].get(id).copied().unwrap_or(0);
            assert_eq!(v[field], n, "{id} {field}: {v}");
        }
        let of = |field: &str| db_counts[field].get(id).copied().unwrap_or(0) as f64;
        assert!(of("completed") > 0.0 && of("connected") > 0.0 && of("conversations") > 0.0, "a mixed run: {v}");
        assert!(of("dials") >= of("completed"), "a dial per completed attempt at least: {v}");
        for (rate, num) in [("connect_rate", "connected"), ("conversation_rate", "conversations")] {
            let value = v[rate].as_f64().unwrap();
            assert!((value - of(num) / of("completed")).abs() < 1e-12, "{id} {rate}: {v}");
        }

        // Intents: every one listed, each as the database counts it.
        let intents = pairs(
            &conn,
            &format!(
                "SELECT intent AS v, COUNT(*) AS n FROM attempts WHERE vendor_id = '{id}' AND intent IS NOT NULL \
                 GROUP BY intent"
            ),
        )
        .await;
        let by_intent = v["by_intent"].as_object().unwrap();
        assert_eq!(by_intent["do_not_call"], 0, "intents the run never produced are listed too: {v}");
        for (intent, n) in by_intent {
            assert_eq!(n.as_i64(), Some(intents.get(intent).copied().unwrap_or(0)), "{id} {intent}: {v}");
        }
        assert!(intents.keys().all(|i| by_intent.contains_key(i)), "{id}: {intents:?}");

        // Talk time: the mean duration of connected attempts reporting one.
        let talk = &rows(
            &conn,
            &format!(
                "SELECT CAST(SUM(duration_ms) AS BIGINT) AS ms, COUNT(duration_ms) AS n FROM attempts \
                 WHERE vendor_id = '{id}' AND {connected}"
            ),
        )
        .await[0];
        let (ms, n) = (talk.try_get::<i64>("", "ms").unwrap(), talk.try_get::<i64>("", "n").unwrap());
        assert!(n > 0, "the simulator reports durations");
        let average = v["average_talk_seconds"].as_f64().unwrap();
        assert!((average - ms as f64 / n as f64 / 1000.0).abs() < 1e-9, "{id}: {v}");

        // Errors: failed attempts and vendor errors by raw code.
        let errors = pairs(
            &conn,
            &format!(
                "SELECT COALESCE(raw_code, 'unknown') AS v, COUNT(*) AS n FROM attempts WHERE vendor_id = '{id}' \
                 AND (state = 'failed' OR disposition = 'vendor_error') GROUP BY COALESCE(raw_code, 'unknown')"
            ),
        )
        .await;
        assert_eq!(v["errors_by_code"], serde_json::to_value(&errors).unwrap(), "{id}: {v}");
    }

    // The default period (the last 24 hours to now) holds the whole run.
    let default: Value = get("").await.json().await.unwrap();
    assert_eq!(default["vendors"], card["vendors"], "{default}");
    // A period before the run: every vendor listed, with zeros and null rates.
    let before: Value = get("to=2001-01-01T00:00:00Z").await.json().await.unwrap();
    assert_eq!(before["from"], "2000-12-31T00:00:00Z", "from defaults to a day before to");
    for v in before["vendors"].as_array().unwrap() {
        assert_eq!(
            (&v["dials"], &v["attempts"], &v["connect_rate"], &v["average_talk_seconds"]),
            (&json!(0), &json!(0), &Value::Null, &Value::Null),
            "{v}"
        );
    }
    assert_eq!(before["vendors"].as_array().unwrap().len(), VENDORS.len());
    drop(daemon);
}

/// Attempts matching `filter` counted by vendor.
fn per_vendor(filter: &str) -> String {
    format!("SELECT vendor_id AS v, COUNT(*) AS n FROM attempts WHERE {filter} GROUP BY vendor_id")
}

async fn pairs(conn: &sea_orm::DatabaseConnection, sql: &str) -> BTreeMap<String, i64> {
    rows(conn, sql)
        .await
        .iter()
        .map(|r| (r.try_get::<String>("", "v").unwrap(), r.try_get::<i64>("", "n").unwrap()))
        .collect()
}

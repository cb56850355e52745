//! Logs for operations: a whole run in `log_format = "json"` is one JSON
//! object per line, carries the campaign in its spans, and holds no
//! configured secret and no callee's number in any notation.

use crate::common;

use common::daemon::Daemon;
use common::{API_KEY, ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use serde_json::Value;
use std::time::Duration;

const ADMIN_TOKEN: &str = "admin-token-Zq8vT3-never-logged";
/// The forwarding secret (`whsec_` + base64 of "forward-secret-never-logged").
const FORWARD_SECRET: &str = "whsec_Zm9yd2FyZC1zZWNyZXQtbmV2ZXItbG9nZ2Vk";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_logs_json_lines_without_secrets_or_numbers() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.2)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 40, ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{ADMIN_TOKEN}\""));
    // A top-level key: it must stand before the first table.
    let text = std::fs::read_to_string(&config).unwrap();
    // Results are forwarded too: the signatures and their secret stay out of the log.
    let receiver = common::webhook_receiver::Receiver::start(|_| common::webhook_receiver::Answer::Status(200)).await;
    let forwarding = format!("[forwarding]\nurl = \"{}\"\nsecret = \"{FORWARD_SECRET}\"", receiver.url);
    std::fs::write(&config, format!("log_format = \"json\"\n{text}\n{forwarding}\n")).unwrap();
    let log = db.path("daemon.log");
    // Debug, the level an operator turns on to chase a problem.
    let mut daemon = Daemon::start_logging_at(&config, &log, "debug");
    let conn = db.connect().await;

    // Traffic that carries the secrets: the admin token (right and wrong),
    // a callback signed with a wrong key, one naming a call never made.
    let http = reqwest::Client::new();
    let r = http.get(daemon.url("/api/v1/campaigns")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.get(daemon.url("/api/v1/campaigns")).bearer_auth(format!("{ADMIN_TOKEN}x")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(daemon.url("/callbacks/sim-a"))
        .header("x-sim-signature", "sha256=00")
        .body(r#"{"event_id":"e","call_id":"c","reference":"r"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    poll_until(Duration::from_secs(30), "every result forwarded", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE delivered_at IS NULL").await == 0).then_some(())
    })
    .await;
    assert!(daemon.terminate().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert!(lines.len() > 20, "a debug run logs more than this:\n{text}");
    // The dispatch's span names its campaign and vendor on every line logged inside it.
    let in_campaign = lines
        .iter()
        .filter(|l| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["campaign"] == "e2e")))
        .count();
    assert!(in_campaign > 0, "no line carries the campaign's span:\n{text}");
    // Each settled result names its campaign, contact and attempt.
    let settled: Vec<&Value> = lines.iter().filter(|l| l["message"] == "result settled").collect();
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(settled.len() as i64, completed, "one line per settled result:\n{text}");
    assert!(
        settled.iter().all(|l| l["campaign"] == "e2e" && l["contact"].is_i64() && l["attempt"].is_string()),
        "{settled:?}"
    );
    assert!(lines.iter().all(|l| l["level"].is_string() && l["timestamp"].is_string()), "{text}");

    let signatures: Vec<String> = receiver.seen().into_iter().map(|r| r.signature).collect();
    assert_eq!(signatures.len(), 40, "one contact.final per contact");
    for secret in [API_KEY, SECRET, ADMIN_TOKEN, FORWARD_SECRET, "forward-secret-never-logged"] {
        assert!(!text.contains(secret), "the log holds the secret `{secret}`");
    }
    for sig in &signatures {
        let value = sig.strip_prefix("v1,").unwrap_or(sig);
        assert!(!text.contains(value), "the log holds a webhook signature");
    }
    let phones = rows(&conn, "SELECT phone FROM contacts").await;
    assert_eq!(phones.len(), 40);
    for row in phones {
        let e164: String = row.try_get("", "phone").unwrap();
        let digits = e164.trim_start_matches('+');
        let national = format!("0{}", digits.trim_start_matches("62"));
        for shown in [digits, national.as_str()] {
            assert!(!text.contains(shown), "the log holds the number {shown}");
        }
    }
}

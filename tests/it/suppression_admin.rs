//! The suppression list through the CLI and the admin API: imports with bad
//! rows, exports, never-weaken, removal, and numbers imported while a
//! campaign runs are never dialed afterwards.

use crate::common;

use chrono::{DateTime, Utc};
use common::daemon::{Daemon, cli};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use doubles::sim::SimSettings;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "s3cret";

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_imported_while_a_campaign_runs_are_never_dialed_afterwards() {
    let db = TestDb::new();
    // Slow calls and a cap of 2: most contacts are still waiting when the lists arrive.
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(600),
        latency_max: Duration::from_millis(900),
        ..fast_sim(0.0)
    })
    .await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 24, campaign_cap: 2, ..ConfigSpec::new(&db.url, &sim_url) };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);

    poll_until(Duration::from_secs(30), "the campaign dialing", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts").await > 0).then_some(())
    })
    .await;
    let waiting = rows(&conn, "SELECT phone FROM contacts WHERE attempt_seq = 0 ORDER BY id DESC LIMIT 6").await;
    let phones: Vec<String> = waiting.iter().map(|r| r.try_get_by_index(0).unwrap()).collect();
    assert_eq!(phones.len(), 6, "six contacts not dialed yet");

    // Three through the CLI, with one bad row: reported, the others imported, exit code 1.
    let csv = db.path("dnc.csv");
    let text = format!("phone,reason\n{},dnc\n+62812x,typo\n{},dnc\n{},dnc\n", phones[0], phones[1], phones[2]);
    std::fs::write(&csv, text).unwrap();
    let out = cli(&config, &["suppress", "import", csv.to_str().unwrap()]);
    let cli_done = Utc::now();
    assert!(!out.status.success(), "a bad row makes the exit code non-zero");
    assert!(stdout(&out).contains("4 rows: 3 added, 0 extended, 0 unchanged, 1 rejected"), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("dnc.csv: line 3: phone: phone number `+62**2x` has a bad character 'x'"), "{err}");

    // Three through the API, as JSON, expiring in 30 days.
    let http = reqwest::Client::new();
    let body = serde_json::json!([
        { "phone": phones[3], "reason": "customer asked" },
        { "phone": phones[4], "reason": "customer asked" },
        { "phone": phones[5], "reason": "customer asked" },
    ]);
    let r =
        http.post(daemon.url("/api/v1/suppressions?expires=30d")).bearer_auth(TOKEN).json(&body).send().await.unwrap();
    let api_done = Utc::now();
    assert_eq!(r.status().as_u16(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!((report["added"].as_u64(), report["rejected"].as_u64()), (Some(3), Some(0)), "{report}");

    poll_until(Duration::from_secs(90), "the campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1).then_some(())
    })
    .await;

    let imported_at: HashMap<&str, DateTime<Utc>> =
        phones.iter().enumerate().map(|(i, p)| (p.as_str(), if i < 3 { cli_done } else { api_done })).collect();
    let attempts = entity::attempt::Entity::find()
        .filter(entity::attempt::Column::Phone.is_in(phones.clone()))
        .all(&conn)
        .await
        .unwrap();
    for a in &attempts {
        let phone = a.phone.as_deref().unwrap();
        assert!(
            a.created_at <= imported_at[phone],
            "attempt {} created after its number was suppressed",
            a.attempt_ref
        );
    }
    let contacts = entity::contact::Entity::find()
        .filter(entity::contact::Column::Phone.is_in(phones.clone()))
        .all(&conn)
        .await
        .unwrap();
    for c in contacts.iter().filter(|c| c.state != "suppressed") {
        assert!(c.attempt_seq > 0, "a contact left unsuppressed had been dialed before the import");
    }
    // Both paths were exercised: in each group a contact still waiting when
    // its number was listed was skipped by the claim and ended suppressed.
    for (how, group) in [("CLI", &phones[..3]), ("API", &phones[3..])] {
        let n = contacts.iter().filter(|c| group.contains(&c.phone) && c.state == "suppressed").count();
        assert!(n >= 1, "no contact listed through the {how} ended suppressed");
    }
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_exported_never_weakened_and_only_removed_explicitly() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let config = ConfigSpec::new(&db.url, &sim_url).write(&db, &format!("admin_token = \"{TOKEN}\""));

    // CLI: a complaint that never expires, and a national number with the flag's country code.
    let csv = db.path("list.csv");
    std::fs::write(&csv, "phone,reason,source,expires_at\n+6281100000001,complaint,crm,never\n081100000002,,,\n")
        .unwrap();
    let out = cli(
        &config,
        &["suppress", "import", csv.to_str().unwrap(), "--reason", "dnc", "--expires", "90d", "--country-code", "62"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 rows: 2 added"), "{}", stdout(&out));
    let out = cli(&config, &["suppress", "add", "+6281100000003", "--reason", "fraud", "--expires", "2099-12-31"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("+6281100000003: added (fraud, until 2100-01-01T00:00:00+00:00)"),
        "{}",
        stdout(&out)
    );
    // A shorter entry for the complaint: unchanged.
    let out = cli(&config, &["suppress", "add", "+6281100000001", "--reason", "short", "--expires", "1d"]);
    assert!(stdout(&out).contains("already listed at least as long; unchanged (complaint, never expires)"));
    // An expired entry, as a past import would have left.
    let conn = db.connect().await;
    entity::suppression::ActiveModel {
        phone: Set("+6281100000004".into()),
        reason: Set("old".into()),
        source: Set("test".into()),
        created_at: Set(Utc::now() - chrono::Duration::days(40)),
        expires_at: Set(Some(Utc::now() - chrono::Duration::days(10))),
        ..Default::default()
    }
    .insert(&conn)
    .await
    .unwrap();

    let out = cli(&config, &["suppress", "export"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "phone,reason,source,created_at,expires_at");
    assert_eq!(lines.len(), 4, "three active entries, the expired one left out: {text}");
    assert!(lines[1].starts_with("+6281100000001,complaint,crm,") && lines[1].ends_with(",never"), "{text}");
    assert!(lines[2].starts_with("+6281100000002,dnc,import,"), "defaults from the flags: {text}");
    let out = cli(&config, &["suppress", "export", "--all", "--format", "json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 4);
    assert_eq!((all[3]["phone"].as_str(), all[3]["active"].as_bool()), (Some("+6281100000004"), Some(false)));
    assert_eq!(all[0]["expires_at"], serde_json::Value::Null);
    assert_eq!(all[0]["active"], true);

    // The export imports back as it is: nothing changes.
    let back = db.path("back.csv");
    std::fs::write(&back, &cli(&config, &["suppress", "export"]).stdout).unwrap();
    let out = cli(&config, &["suppress", "import", back.to_str().unwrap()]);
    assert!(stdout(&out).contains("3 rows: 0 added, 0 extended, 3 unchanged, 0 rejected"), "{}", stdout(&out));

    let daemon = Daemon::start(&config);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(daemon.url(path)).bearer_auth(TOKEN).send();
    assert_eq!(http.get(daemon.url("/api/v1/suppressions")).send().await.unwrap().status().as_u16(), 401);

    // API import, CSV: one shorter entry (unchanged), one longer (extended), one new, one bad.
    let body = "phone,reason,expires_at\n\
                +6281100000001,weaker,30d\n\
                +6281100000002,complaint,never\n\
                +6281100000005,new,\n\
                12,bad,\n";
    let r = http
        .post(daemon.url("/api/v1/suppressions?reason=x"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let report: serde_json::Value = r.json().await.unwrap();
    let counts = ["rows", "added", "extended", "unchanged", "rejected"].map(|k| report[k].as_u64().unwrap());
    assert_eq!(counts, [4, 1, 1, 1, 1], "{report}");
    assert_eq!(report["errors"][0]["line"], 5);
    assert_eq!(report["errors"][0]["column"], "phone");

    let json: serde_json::Value = get("/api/v1/suppressions").await.unwrap().json().await.unwrap();
    let by_phone: HashMap<&str, &serde_json::Value> =
        json.as_array().unwrap().iter().map(|s| (s["phone"].as_str().unwrap(), s)).collect();
    assert_eq!(by_phone["+6281100000001"]["reason"], "complaint", "the complaint was not weakened");
    assert_eq!(by_phone["+6281100000002"]["reason"], "complaint", "the longer entry replaced the 90-day one");
    assert_eq!(by_phone["+6281100000002"]["expires_at"], serde_json::Value::Null);
    assert_eq!(by_phone["+6281100000005"]["source"], "api");
    assert!(!by_phone.contains_key("+6281100000004"), "expired entries only with all=true");
    let r = get("/api/v1/suppressions?format=csv&all=true").await.unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(text.starts_with("phone,reason,source,created_at,expires_at,active\n"), "{text}");
    assert!(text.contains("+6281100000004,old,test,") && text.contains(",false\n"), "{text}");

    // Nothing valid: 400 and nothing imported; wrong media type: 415.
    let r = http
        .post(daemon.url("/api/v1/suppressions"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!([{ "phone": "nope", "reason": "x" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["item"], 1, "{body}");
    let r =
        http.post(daemon.url("/api/v1/suppressions")).bearer_auth(TOKEN).body("phone\n+6281100000009\n").send().await;
    assert_eq!(r.unwrap().status().as_u16(), 415);

    // Only DELETE removes: `+` as %2B or as is; a second time finds nothing.
    let delete = |path: &str| http.delete(daemon.url(path)).bearer_auth(TOKEN).send();
    assert_eq!(delete("/api/v1/suppressions/%2B6281100000001").await.unwrap().status().as_u16(), 200);
    assert_eq!(delete("/api/v1/suppressions/%2B6281100000001").await.unwrap().status().as_u16(), 404);
    assert_eq!(delete("/api/v1/suppressions/+6281100000005").await.unwrap().status().as_u16(), 200);
    assert_eq!(delete("/api/v1/suppressions/abc").await.unwrap().status().as_u16(), 400);
    let out = cli(&config, &["suppress", "remove", "+6281100000002"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cli(&config, &["suppress", "remove", "+6281100000002"]);
    assert!(!out.status.success() && stderr(&out).contains("is not on the suppression list"), "{}", stderr(&out));
    let left: Vec<String> = rows(&conn, "SELECT phone FROM suppressions ORDER BY phone")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    assert_eq!(left, ["+6281100000003", "+6281100000004"]);

    let doc: serde_json::Value =
        http.get(daemon.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/suppressions"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/suppressions/{phone}"]["delete"].is_object());
    drop(daemon);
}

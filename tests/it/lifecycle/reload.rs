//! SIGHUP reloads config.toml in the running process.

use crate::common::daemon::Daemon;
use crate::common::{ConfigSpec, TestDb, poll_until, scalar, start_sim};
use doubles::sim::SimSettings;
use std::path::Path;
use std::time::Duration;

const ADMIN: &str = "admin_token = \"reload-test-token\"";

async fn vendor_cap(http: &reqwest::Client, daemon: &Daemon, id: &str) -> Option<u64> {
    let body: serde_json::Value = http
        .get(daemon.url("/api/v1/vendors"))
        .bearer_auth("reload-test-token")
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["vendors"].as_array()?.iter().find(|v| v["id"] == id)?["max_concurrency"].as_u64()
}

fn log_has(log: &Path, text: &str) -> Option<String> {
    let all = std::fs::read_to_string(log).unwrap_or_default();
    all.contains(text).then_some(all)
}

fn assert_serving_same_process(daemon: &mut Daemon, pid: u32) {
    assert_eq!(daemon.child.id(), pid);
    assert!(daemon.child.try_wait().expect("try_wait").is_none(), "the daemon must still run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_campaign_and_vendor_changes_and_keeps_running_on_a_bad_file() {
    let db = TestDb::new();
    let sim = start_sim(SimSettings::default()).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec::new(&db.url, &sim_url);
    let config = spec.write(&db, ADMIN);
    let original = std::fs::read_to_string(&config).unwrap();
    let log = db.path("daemon.log");
    let mut daemon = Daemon::start_logging_at(&config, &log, "info,sea_orm=warn,sqlx=warn");
    let pid = daemon.child.id();
    let http = reqwest::Client::new();
    let conn = db.connect().await;
    assert_eq!(vendor_cap(&http, &daemon, "sim-b").await, Some(15));

    // A campaign setting, a vendor setting, a new campaign, and one setting
    // that cannot change live (the listening address).
    let second = original[original.find("[[campaigns]]").unwrap()..].replace("name = \"e2e\"", "name = \"second\"");
    let edited = original
        .replace("max_concurrency = 15", "max_concurrency = 4")
        .replace("max_concurrency = 40", "max_concurrency = 7")
        .replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:1\"")
        + &second;
    std::fs::write(&config, edited).unwrap();
    daemon.signal("HUP");

    poll_until(Duration::from_secs(30), "the vendor change live", || async {
        (vendor_cap(&http, &daemon, "sim-b").await == Some(4)).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT CAST(max_concurrency AS BIGINT) FROM campaigns WHERE name = 'e2e'").await, 7);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'second'").await, 1);
    let status = crate::common::daemon::cli(&config, &["status", "--json"]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("\"second\""), "status lists the added campaign");
    let text =
        poll_until(Duration::from_secs(10), "the reload's log line", || async { log_has(&log, "config reloaded: ") })
            .await;
    for change in ["vendor sim-b changed", "campaign e2e changed", "campaign second added"] {
        assert!(text.contains(change), "`{change}` missing from the log:\n{text}");
    }
    let restart = text.lines().find(|l| l.contains("needs a restart")).unwrap_or_default();
    assert!(restart.contains("http.listen"), "{text}");
    assert_serving_same_process(&mut daemon, pid);
    let health = http.get(daemon.url("/healthz")).send().await.expect("the old address still serves");
    assert!(health.status().is_success());

    // An invalid file: refused with its field and line, the running config kept.
    let bad = std::fs::read_to_string(&config).unwrap().replacen("daily 00:00-24:00", "someday 9 to 5", 1);
    std::fs::write(&config, bad).unwrap();
    daemon.signal("HUP");
    let text = poll_until(Duration::from_secs(30), "the refusal in the log", || async {
        log_has(&log, "config reload refused, the running config is kept")
    })
    .await;
    let refusal = text.lines().skip_while(|l| !l.contains("config reload refused")).collect::<Vec<_>>().join("\n");
    assert!(refusal.contains("campaigns[0].windows"), "the log must name the bad field:\n{refusal}");
    assert!(refusal.contains("line "), "the log must name the line:\n{refusal}");
    assert_serving_same_process(&mut daemon, pid);
    assert_eq!(vendor_cap(&http, &daemon, "sim-b").await, Some(4), "the running config is kept");
    assert_eq!(scalar(&conn, "SELECT CAST(max_concurrency AS BIGINT) FROM campaigns WHERE name = 'e2e'").await, 7);

    let exit = daemon.terminate();
    assert!(exit.success(), "SIGTERM after reloads must still exit 0, got {exit}");
}

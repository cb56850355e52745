//! One campaign across four real vendor protocols (AIRudder, Blu, smartivr,
//! Laaffic), each spoken to its protocol-faithful fake over loopback HTTP,
//! with the `rotate` redial strategy. Laaffic fails fatally mid-run (its fake
//! starts answering "insufficient balance"): its circuit opens and its work
//! goes to the other vendors. Every contact finishes, no call is dialed
//! twice, no contact is ever in flight twice, and the results of every vendor
//! land in one normalized model — webhook arrays, aggregated webhooks, one
//! record per POST with a pre-dial check, and polling.

use crate::common;

use campaignd::vendors::embedded::fake_config;
use common::daemon::{Daemon, cli};
use common::invariants::{assert_final, assert_peaks, spawn_sampler};
use common::{TestDb, poll_until, rows, scalar, write_contacts};
use doubles::{FakeBehavior, FakeHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

const TOKEN: &str = "cb-t0ken";

fn vendor_block(id: &str, port: u16) -> String {
    // `<kind>-<variant>` ids name their kind in the variant's block.
    let kind = if id.contains('-') { String::new() } else { format!("kind = \"{id}\"\n") };
    let common = format!("id = \"{id}\"\n{kind}base_url = \"http://127.0.0.1:{port}\"\nmax_concurrency = 20\n");
    let specific = match id {
        "airudder" => "api_key = \"ar-key\"\napi_secret = \"ar-secret\"\ncallback_token = \"cb-t0ken\"\n\
                       options = { robot_hash = \"robot-1\" }\n"
            .to_string(),
        "blu" => "api_key = \"blu-app\"\napi_secret = \"blu-key\"\ncallback_token = \"cb-t0ken\"\n".to_string(),
        "smartivr" => "api_key = \"sivr-token\"\noptions = { group_id = 7 }\n".to_string(),
        // smartivr with its (optional) per-number notifications on: results
        // arrive both by polling and by callback.
        "smartivr-notify" => "kind = \"smartivr\"\napi_key = \"sivr-token\"\ncallback_token = \"cb-t0ken\"\n\
                             options = { group_id = 7, call_notify_type = 2 }\n"
            .to_string(),
        "laaffic" => "api_key = \"bDqJFiq9\"\napi_secret = \"7bz1lzh9\"\ncallback_token = \"cb-t0ken\"\n\
                      circuit_cooldown = \"10m\"\noptions = { app_id = \"app-1\", agent_id = 1001 }\n"
            .to_string(),
        other => panic!("no block for {other}"),
    };
    format!("[[vendors]]\n{common}{specific}\n")
}

fn config_text(db_url: &str, listen: u16, fakes: &[(&str, u16)]) -> String {
    let mut text = format!(
        r#"[database]
url = "{db_url}"

[http]
listen = "127.0.0.1:{listen}"

[scheduler]
tick = "100ms"
claim_batch = 200
reconcile_every = "300ms"

"#
    );
    for (id, port) in fakes {
        text.push_str(&vendor_block(id, *port));
    }
    let routes: Vec<String> = fakes.iter().map(|(id, _)| format!("\"{id}\"")).collect();
    text.push_str(&format!(
        r#"[[campaigns]]
name = "multi"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 40
vendors = [{routes}]
redial_strategy = "rotate"
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1s"
max_vendor_failures = 50
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy", "power_off", "unreachable", "voicemail", "rejected", "out_of_service", "call_loss", "unknown", "vendor_error"]
retry_after = "1s"
max = 2
"#,
        routes = routes.join(", ")
    ));
    text
}

async fn free_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_campaign_rotates_across_four_vendor_protocols_and_survives_a_fatal_vendor() {
    let db = TestDb::new();
    let daemon_port = free_port().await;
    let ids = ["airudder", "blu", "smartivr", "laaffic"];
    let mut listeners = Vec::new();
    for _ in ids {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap());
    }
    let fakes_ports: Vec<(&str, u16)> =
        ids.iter().zip(&listeners).map(|(id, l)| (*id, l.local_addr().unwrap().port())).collect();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, &fakes_ports)).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");

    // The fakes run here, in the test, so their counters can be read.
    let mut fakes: BTreeMap<&str, FakeHandle> = BTreeMap::new();
    for ((id, listener), (i, v)) in ids.iter().zip(listeners).zip(settings.vendors.iter().enumerate()) {
        assert_eq!(v.id, *id);
        let behavior = FakeBehavior {
            callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/{id}?token={TOKEN}")),
            latency_min: Duration::from_millis(5),
            latency_max: Duration::from_millis(60),
            // Laaffic's account runs dry after 25 calls.
            fatal_after_calls: (*id == "laaffic").then_some(25),
            ..FakeBehavior::fast(40 + i as u64)
        };
        let spec = doubles::kinds::find(&v.kind).expect("known kind");
        fakes.insert(id, (spec.spawn)(&fake_config(v), behavior, listener).await.expect("fake starts"));
    }

    let csv = db.path("contacts.csv");
    write_contacts(&csv, 300);
    let out = cli(&config, &["import", "--campaign", "multi", csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(240), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'multi' AND state = 'completed'").await == 1)
            .then_some(())
    })
    .await;
    stop.store(true, Relaxed);
    sampler.await.unwrap();

    assert_peaks(&peaks, 40, &[("airudder", 20), ("blu", 20), ("smartivr", 20), ("laaffic", 20)]);
    assert_final(&conn, 300, 3, Duration::from_secs(1)).await;

    // No vendor dialed a call twice, nor one number on two lines at once.
    for (id, fake) in &fakes {
        assert_eq!(fake.stats.double_dials.load(Relaxed), 0, "{id} dialed a call twice");
        assert_eq!(fake.stats.concurrent_same_phone.load(Relaxed), 0, "{id} had one number on two lines");
        assert!(fake.stats.dials.load(Relaxed) > 0, "{id} dialed nothing");
    }
    // Every dial a vendor made is one completed attempt (or, for Blu, a call
    // it gave up on after our pre-dial answer), and vice versa.
    for id in ["airudder", "smartivr", "laaffic"] {
        let completed =
            scalar(&conn, &format!("SELECT COUNT(*) FROM attempts WHERE vendor_id = '{id}' AND state = 'completed'"))
                .await;
        assert_eq!(fakes[id].stats.dials.load(Relaxed) as i64, completed, "{id}: dials vs completed attempts");
    }
    let blu_dialed = fakes["blu"].stats.dials.load(Relaxed) as i64;
    let blu_completed = scalar(
        &conn,
        "SELECT COUNT(*) FROM attempts WHERE vendor_id = 'blu' AND state = 'completed' AND disposition <> 'cancelled'",
    )
    .await;
    assert_eq!(blu_dialed, blu_completed, "blu: dials vs completed attempts");
    assert!(fakes["blu"].stats.calls_accepted.load(Relaxed) > 0);

    // Laaffic failed fatally mid-run: it took calls, then refused; its
    // refused batches were failed without consuming attempts and went elsewhere.
    let laaffic_failed = scalar(
        &conn,
        "SELECT COUNT(*) FROM attempts WHERE vendor_id = 'laaffic' AND state = 'failed' AND error LIKE '%-10%'",
    )
    .await;
    assert!(laaffic_failed > 0, "laaffic's fatal refusal must show on its attempts");
    let laaffic_completed =
        scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE vendor_id = 'laaffic' AND state = 'completed'").await;
    // The fake turns fatal once 25 calls were accepted; the batch that crossed
    // the line (at most the vendor cap, 20) was still taken.
    assert!((25..45).contains(&laaffic_completed), "laaffic completed {laaffic_completed} calls before its failure");
    let last_laaffic_batch = scalar(
        &conn,
        "SELECT COUNT(*) FROM vendor_tasks WHERE vendor_id = 'laaffic' AND state = 'failed' \
         AND id < (SELECT MAX(id) FROM vendor_tasks WHERE vendor_id = 'laaffic')",
    )
    .await;
    assert_eq!(last_laaffic_batch, 0, "one fatal refusal opens the circuit: no batch is offered after it");
    let moved_on = scalar(
        &conn,
        "SELECT COUNT(*) FROM attempts a WHERE a.vendor_id = 'laaffic' AND a.state = 'failed' \
         AND EXISTS (SELECT 1 FROM attempts b WHERE b.contact_id = a.contact_id AND b.attempt_no > a.attempt_no \
                     AND b.vendor_id <> 'laaffic')",
    )
    .await;
    assert_eq!(moved_on, laaffic_failed, "every contact laaffic refused was dialed by another vendor");

    // Rotation: a contact's consecutive dials never stay on one vendor while
    // others have room (every vendor has spare capacity here).
    let pairs = rows(
        &conn,
        "SELECT a.vendor_id, b.vendor_id FROM attempts a JOIN attempts b \
         ON b.contact_id = a.contact_id AND b.attempt_no = a.attempt_no + 1 WHERE a.state = 'completed'",
    )
    .await;
    assert!(pairs.len() > 20, "the outcome mix must produce redials: {}", pairs.len());
    for p in &pairs {
        let (a, b): (String, String) = (p.try_get_by_index(0).unwrap(), p.try_get_by_index(1).unwrap());
        assert_ne!(a, b, "rotate: a redial went to the same vendor");
    }

    // One normalized model: every working vendor's results carry normalized
    // dispositions and its own raw codes.
    let by_vendor = rows(
        &conn,
        "SELECT vendor_id, disposition, raw_code FROM attempts WHERE state = 'completed' AND disposition IS NOT NULL",
    )
    .await;
    let mut dispositions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &by_vendor {
        let (v, d, raw): (String, String, Option<String>) =
            (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap(), r.try_get_by_index(2).unwrap());
        assert!(raw.as_deref().is_some_and(|raw| raw.starts_with(&format!("{v}:"))), "{v}: raw code {raw:?}");
        dispositions.entry(v).or_default().insert(d);
    }
    for id in ["airudder", "blu", "smartivr"] {
        let seen = dispositions.get(id).cloned().unwrap_or_default();
        assert!(seen.contains("answered") && seen.len() >= 3, "{id}: {seen:?}");
    }
    // Each dial is recorded once in `dials`, whatever path its result took.
    let dial_rows = scalar(&conn, "SELECT COUNT(*) FROM dials WHERE seq = 0").await;
    let dialed =
        scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed' AND disposition <> 'cancelled'").await;
    assert_eq!(dial_rows, dialed);
    // Every result of the push vendors came through a stored callback exactly
    // once — also those that arrived before their dispatch was recorded and
    // waited, pending, for it.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    for id in ["airudder", "blu", "laaffic"] {
        let by_callbacks = scalar(
            &conn,
            &format!(
                "SELECT COALESCE(SUM(events), 0) FROM callback_inbox WHERE vendor_id = '{id}' AND state = 'processed'"
            ),
        )
        .await;
        let finished = scalar(
            &conn,
            &format!("SELECT COUNT(*) FROM attempts WHERE vendor_id = '{id}' AND state IN ('completed', 'cancelled')"),
        )
        .await;
        assert_eq!(by_callbacks, finished, "{id}: results applied from callbacks");
    }
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_seen_by_poll_and_by_callback_lands_once() {
    let db = TestDb::new();
    let daemon_port = free_port().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let id = "smartivr-notify";
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, &[(id, listener.local_addr().unwrap().port())])).unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    let v = &settings.vendors[0];
    let behavior = FakeBehavior {
        latency_min: Duration::from_millis(5),
        latency_max: Duration::from_millis(60),
        ..FakeBehavior::fast(9)
    };
    let fake = (doubles::kinds::find("smartivr").unwrap().spawn)(&fake_config(v), behavior, listener).await.unwrap();

    let csv = db.path("contacts.csv");
    write_contacts(&csv, 60);
    assert!(cli(&config, &["import", "--campaign", "multi", csv.to_str().unwrap()]).status.success());
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1).then_some(())
    })
    .await;
    poll_until(Duration::from_secs(30), "notifications delivered and stored", || async {
        let pending = fake.stats.callbacks_pending.load(Relaxed);
        let inbox_pending = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
        (pending == 0 && inbox_pending == 0).then_some(())
    })
    .await;
    assert_final(&conn, 60, 3, Duration::from_secs(1)).await;
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(fake.stats.dials.load(Relaxed) as i64, completed, "one completed attempt per dial");
    let delivered = fake.stats.callbacks_delivered.load(Relaxed) as i64;
    assert!(delivered >= completed, "every dial was also notified: {delivered} < {completed}");
    let stored = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state IN ('processed','duplicate')").await;
    assert_eq!(stored, delivered, "every notification stored");
    // Whichever path came first applied the result; the other found it done.
    let by_callback =
        scalar(&conn, "SELECT COALESCE(SUM(events), 0) FROM callback_inbox WHERE state = 'processed'").await;
    assert!(by_callback <= completed);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM dials WHERE seq = 0").await, completed, "each dial recorded once");
    assert_eq!(
        scalar(
            &conn,
            "SELECT COUNT(*) FROM (SELECT attempt_id FROM dials GROUP BY attempt_id, seq HAVING COUNT(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_cancels_whole_tasks_is_asked_only_for_whole_tasks() {
    let db = TestDb::new();
    let daemon_port = free_port().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = db.path("config.toml");
    std::fs::write(&config, config_text(&db.url, daemon_port, &[("laaffic", listener.local_addr().unwrap().port())]))
        .unwrap();
    let settings = campaignd::config::load(&config, &campaignd::vendors::Kinds).expect("valid config");
    // One line and slow calls: the task's calls wait at the vendor.
    let behavior = FakeBehavior {
        callback_url: Some(format!("http://127.0.0.1:{daemon_port}/callbacks/laaffic?token={TOKEN}")),
        max_lines: 1,
        latency_min: Duration::from_secs(3),
        latency_max: Duration::from_secs(3),
        ..FakeBehavior::fast(3)
    };
    let spec = doubles::kinds::find("laaffic").unwrap();
    let fake = (spec.spawn)(&fake_config(&settings.vendors[0]), behavior, listener).await.unwrap();
    let csv = db.path("contacts.csv");
    write_contacts(&csv, 10);
    assert!(cli(&config, &["import", "--campaign", "multi", csv.to_str().unwrap()]).status.success());
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);
    poll_until(Duration::from_secs(30), "10 calls in one Laaffic task", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await == 10).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT COUNT(DISTINCT vendor_task_id) FROM attempts").await, 1);

    // One suppressed number: Laaffic cannot cancel one call of a task, so nothing is cancelled.
    let phone: String =
        rows(&conn, "SELECT phone FROM contacts ORDER BY id DESC LIMIT 1").await[0].try_get_by_index(0).unwrap();
    common::suppress(&conn, &phone).await;
    let http = reqwest::Client::new();
    let sweeps = || async {
        let text = http.get(daemon.url("/metrics")).send().await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("campaignd_sweeps_total "))
            .map_or(0, |v| v.trim().parse::<f64>().unwrap() as u64)
    };
    let before = sweeps().await;
    poll_until(Duration::from_secs(30), "two more sweeps", || async { (sweeps().await >= before + 2).then_some(()) })
        .await;
    assert_eq!(
        scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE cancel_requested_at IS NOT NULL").await,
        0,
        "no cancel for part of a task"
    );
    // Pausing the campaign makes every outstanding call of the task due: the task is cancelled.
    let out = cli(&config, &["pause", "multi"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    poll_until(Duration::from_secs(30), "outstanding calls reported back", || async {
        let open = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
        (open == 0).then_some(())
    })
    .await;
    let cancelled = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'cancelled'").await;
    assert!(cancelled >= 8, "the queued calls of the task were cancelled: {cancelled}");
    assert_eq!(fake.stats.cancelled.load(Relaxed) as i64, cancelled);
    assert_eq!(fake.stats.double_dials.load(Relaxed), 0);
    drop(daemon);
}

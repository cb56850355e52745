//! Result forwarding (issue 16): every final contact and every finished
//! attempt reaches the operator's receiver, signed the Standard Webhooks
//! way, through a receiver that fails, times out and answers slowly, and a
//! daemon killed with SIGKILL mid-delivery; dead-lettered events are listed
//! and replayed with their ids.

use crate::common;
use common::daemon::{Daemon, bin};
use common::webhook_receiver::{Answer, Receiver, verify};
use common::{ConfigSpec, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// `whsec_` + base64 of 24 bytes, as Standard Webhooks secrets are written.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const RECOVERY: &str = r#"dispatch_timeout = "1s"
result_timeout = "2s"
lost_after = "60s"
reconcile_every = "1s""#;

fn config(db: &TestDb, sim_url: &str, contacts: usize, forwarding: &str) -> std::path::PathBuf {
    let path = ConfigSpec { contacts, extra_scheduler: RECOVERY, ..ConfigSpec::new(&db.url, sim_url) }.write(db, "");
    // sim-a is priced per minute, sim-b not: its events carry no cost.
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "id = \"sim-a\"\n",
        "id = \"sim-a\"\nprice_per_minute = \"0.06\"\ncurrency = \"EUR\"\n",
        1,
    );
    std::fs::write(&path, format!("{text}\n[forwarding]\n{forwarding}\n")).unwrap();
    path
}

/// The contacts `ConfigSpec` imports, as E.164 (see `common::write_contacts`).
fn imported_phones(n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("+62812{:08}", 10_000_000 + i)).collect()
}

/// A CLI command with the secret's variable set, as the daemon has it.
fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env("TEST_FORWARD_SECRET", SECRET)
        .output()
        .expect("run campaignd")
}

fn body(r: &common::webhook_receiver::Received) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("body of {} is not JSON: {e}", r.id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_result_reaches_a_failing_slow_receiver_across_a_kill_9() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.2)).await;
    // 500s first, then two that hang past the timeout, slow answers, two
    // more that hang (the daemon is killed while it waits on them), then 200s.
    let receiver = Receiver::start(|n| match n {
        1..=6 => Answer::Status(500),
        7..=8 => Answer::Hang,
        9..=20 => Answer::Slow(Duration::from_millis(300)),
        21..=22 => Answer::Hang,
        _ => Answer::Status(204),
    })
    .await;
    let forwarding = format!(
        "url = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"contact.final\", \"attempt.completed\"]\n\
         timeout = \"3s\"\nbackoff_base = \"100ms\"\nbackoff_cap = \"500ms\"\nmax_age = \"10m\"",
        receiver.url
    );
    let contacts = 40;
    let config = config(&db, &sim.base_url(), contacts, &forwarding);
    let conn = db.connect().await;

    let mut first = Daemon::start(&config);
    poll_until(Duration::from_secs(120), "the receiver holding request 21 or 22", || async {
        receiver.seen().iter().any(|r| r.n >= 21 && r.answer == Answer::Hang).then_some(())
    })
    .await;
    first.kill9();
    let hung: Vec<String> =
        receiver.seen().iter().filter(|r| r.n >= 21 && r.answer == Answer::Hang).map(|r| r.id.clone()).collect();
    // Killed mid-delivery: the event is leased and not delivered.
    for id in &hung {
        let leased = scalar(
            &conn,
            &format!("SELECT COUNT(*) FROM forward_outbox WHERE event_id = '{id}' AND delivered_at IS NULL AND lease_owner IS NOT NULL"),
        )
        .await;
        assert_eq!(leased, 1, "{id} was being delivered at the kill");
    }

    let _second = Daemon::start(&config);
    poll_until(Duration::from_secs(180), "campaign completed and every event delivered", || async {
        let done = scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await;
        let open = scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE delivered_at IS NULL").await;
        (done == 1 && open == 0).then_some(())
    })
    .await;

    let seen = receiver.seen();
    // Every request, failed, hung or accepted, is signed as the spec says.
    for r in &seen {
        verify(SECRET, r).unwrap_or_else(|e| panic!("request {}: {e}", r.n));
    }
    // Duplicates carry the same id and the same body.
    let mut by_id: BTreeMap<&str, Vec<&common::webhook_receiver::Received>> = BTreeMap::new();
    for r in &seen {
        by_id.entry(r.id.as_str()).or_default().push(r);
    }
    for (id, copies) in &by_id {
        assert!(copies.iter().all(|c| c.body == copies[0].body), "{id}: copies differ");
    }
    for id in &hung {
        assert!(by_id[id.as_str()].len() >= 2, "{id}, cut off by the kill, was delivered again with its id");
    }
    let failed_first: Vec<&str> = seen.iter().filter(|r| r.n <= 8).map(|r| r.id.as_str()).collect();
    for id in &failed_first {
        assert!(by_id[id].iter().any(|c| c.n > 8), "{id} failed (500 or timeout) and was retried");
    }
    let accepted: BTreeSet<&str> = seen
        .iter()
        .filter(|r| matches!(r.answer, Answer::Status(204) | Answer::Slow(_)))
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(accepted.len(), by_id.len(), "every event the receiver saw was accepted in the end");

    // Each contact's final result once, for every imported contact.
    let finals: Vec<serde_json::Value> =
        by_id.values().map(|copies| body(copies[0])).filter(|b| b["type"] == "contact.final").collect();
    let final_phones: BTreeSet<String> =
        finals.iter().map(|b| b["data"]["contact"]["phone"].as_str().unwrap().to_string()).collect();
    assert_eq!(finals.len(), contacts, "one contact.final per contact");
    assert_eq!(final_phones, imported_phones(contacts));
    for b in &finals {
        let state = b["data"]["contact"]["state"].as_str().unwrap();
        assert!(["done", "exhausted", "stopped", "suppressed"].contains(&state), "{b}");
        assert!(b["data"]["contact"]["external_id"].as_str().unwrap().starts_with("CASE-"), "{b}");
        assert_eq!(b["data"]["campaign"], "e2e");
    }
    // Each finished attempt once, named by our reference.
    let completed: BTreeSet<String> = by_id
        .values()
        .map(|copies| body(copies[0]))
        .filter(|b| b["type"] == "attempt.completed")
        .map(|b| b["data"]["attempt"]["id"].as_str().unwrap().to_string())
        .collect();
    let finished: BTreeSet<String> =
        rows(&conn, "SELECT attempt_ref FROM attempts WHERE state NOT IN ('dispatching', 'dispatched')")
            .await
            .iter()
            .map(|r| r.try_get_by_index::<String>(0).unwrap())
            .collect();
    assert_eq!(completed, finished);
    // The call's cost rides along: sim-a's price, none for sim-b.
    let mut priced = 0;
    for b in by_id.values().map(|copies| body(copies[0])).filter(|b| b["type"] == "attempt.completed") {
        let a = &b["data"]["attempt"];
        match (a["vendor"].as_str(), a["state"].as_str()) {
            (Some("sim-a"), Some("completed")) => {
                assert_eq!(a["cost_currency"], "EUR", "{a}");
                assert!(a["cost"].as_str().is_some_and(|c| c.parse::<f64>().is_ok()), "{a}");
                priced += 1;
            }
            (Some("sim-b"), _) => assert!(a["cost"].is_null() && a["cost_currency"].is_null(), "{a}"),
            _ => {}
        }
    }
    assert!(priced > 0, "no completed sim-a attempt was forwarded");
    // The outbox holds exactly the events of the committed results.
    let outbox = scalar(&conn, "SELECT COUNT(*) FROM forward_outbox").await;
    assert_eq!(outbox as usize, by_id.len());
    // A 500 is recorded on its row before the retry (a hang cut off by the
    // kill is not: the dead run never learned how it ended).
    let answered_500: BTreeSet<&str> =
        seen.iter().filter(|r| r.answer == Answer::Status(500)).map(|r| r.id.as_str()).collect();
    let ids = answered_500.iter().map(|id| format!("'{id}'")).collect::<Vec<_>>().join(", ");
    let retried =
        scalar(&conn, &format!("SELECT COUNT(*) FROM forward_outbox WHERE attempts > 1 AND event_id IN ({ids})")).await;
    assert_eq!(retried as usize, answered_500.len(), "the failures are counted on their rows");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_past_max_age_are_dead_listed_and_replayed_with_their_ids() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let receiver = Receiver::start(|_| Answer::Status(503)).await;
    let forwarding = format!(
        "url = \"{}\"\nsecret = {{ env = \"TEST_FORWARD_SECRET\" }}\ntimeout = \"1s\"\n\
         backoff_base = \"100ms\"\nbackoff_cap = \"200ms\"\nmax_age = \"1s\"",
        receiver.url
    );
    let config = config(&db, &sim.base_url(), 5, &forwarding);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("max_body_bytes = 4096", "max_body_bytes = 4096\nadmin_token = \"adm1n\"");
    std::fs::write(&config, text).unwrap();
    let conn = db.connect().await;
    let daemon = Daemon::start_with_env(&config, &[("TEST_FORWARD_SECRET", SECRET)]);
    poll_until(Duration::from_secs(120), "every contact.final dead", || async {
        let dead = scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE dead_at IS NOT NULL").await;
        (dead == 5).then_some(())
    })
    .await;
    // Only contact.final by default.
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE event_type <> 'contact.final'").await, 0);
    let http = reqwest::Client::new();
    let metrics = poll_until(Duration::from_secs(10), "the dead gauge", || async {
        let text = http.get(daemon.url("/metrics")).send().await.ok()?.text().await.ok()?;
        text.contains("campaignd_forward_outbox_dead 5").then_some(text)
    })
    .await;
    assert!(metrics.contains("campaignd_forward_deliveries_total{result=\"dead\"} 5"), "{metrics}");

    let listed = cli(&config, &["forwarding", "list", "--dead"]);
    let out = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let dead_ids: BTreeSet<String> = out.lines().map(|l| l.split('\t').next().unwrap().to_string()).collect();
    assert_eq!(dead_ids.len(), 5, "{out}");
    assert!(out.contains("the receiver answered 503"), "{out}");

    // The receiver is fixed: one replayed through the API, the rest through the CLI.
    receiver.script(|_| Answer::Status(200));
    let before = receiver.count();
    let one = dead_ids.iter().next().unwrap().clone();
    let r = http
        .post(daemon.url(&format!("/api/v1/forwarding/events/{one}/replay")))
        .bearer_auth("adm1n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let missing =
        http.post(daemon.url("/api/v1/forwarding/events/evt_nope/replay")).bearer_auth("adm1n").send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let replayed = cli(&config, &["forwarding", "replay", "--all-dead"]);
    assert!(replayed.status.success(), "{}", String::from_utf8_lossy(&replayed.stderr));
    poll_until(Duration::from_secs(30), "every replayed event delivered", || async {
        let open = scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE delivered_at IS NULL").await;
        (open == 0).then_some(())
    })
    .await;
    let after: BTreeSet<String> = receiver.seen()[before..].iter().map(|r| r.id.clone()).collect();
    assert_eq!(after, dead_ids, "replays carry the events' own ids");
    for r in receiver.seen() {
        verify(SECRET, &r).unwrap();
    }
    let page: serde_json::Value = http
        .get(daemon.url("/api/v1/forwarding/events?state=delivered"))
        .bearer_auth("adm1n")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), 5);
    assert_eq!(page["events"][0]["payload"]["type"], "contact.final");
    let bad = http.get(daemon.url("/api/v1/forwarding/events?state=gone")).bearer_auth("adm1n").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("state: `gone`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgresql_deliver_each_event_once_never_together() {
    let db = TestDb::postgres_always();
    let sim = start_sim(fast_sim(0.0)).await;
    // Slow answers: two instances sending one event would overlap here.
    let receiver = Receiver::start(|_| Answer::Slow(Duration::from_millis(150))).await;
    let forwarding = format!(
        "url = \"{}\"\nsecret = \"{SECRET}\"\nevents = [\"contact.final\", \"attempt.completed\"]\ntimeout = \"5s\"",
        receiver.url
    );
    let scheduler = format!("instance_id = \"fwd-1\"\n{RECOVERY}");
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 80, extra_scheduler: &scheduler, ..ConfigSpec::new(&db.url, &sim_url) };
    let one = spec.write(&db, "");
    let text = format!("{}\n[forwarding]\n{forwarding}\n", std::fs::read_to_string(&one).unwrap());
    std::fs::write(&one, &text).unwrap();
    let two = db.path("config-2.toml");
    std::fs::write(&two, text.replace("instance_id = \"fwd-1\"", "instance_id = \"fwd-2\"")).unwrap();
    let conn = db.connect().await;
    let daemons = [Daemon::start(&one), Daemon::start(&two)];
    poll_until(Duration::from_secs(180), "campaign completed and every event delivered", || async {
        let done = scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await;
        let open = scalar(&conn, "SELECT COUNT(*) FROM forward_outbox WHERE delivered_at IS NULL").await;
        (done == 1 && open == 0).then_some(())
    })
    .await;
    assert!(receiver.overlaps().is_empty(), "delivered by two senders at once: {:?}", receiver.overlaps());
    let seen = receiver.seen();
    let ids: BTreeSet<&str> = seen.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), seen.len(), "no failure, no crash: each event sent once");
    assert_eq!(ids.len() as i64, scalar(&conn, "SELECT COUNT(*) FROM forward_outbox").await);
    let finals = seen.iter().filter(|r| body(r)["type"] == "contact.final").count();
    assert_eq!(finals, 80);
    // Both instances delivered some.
    let http = reqwest::Client::new();
    for d in &daemons {
        let text = http.get(d.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let line = text.lines().find(|l| l.starts_with("campaignd_forward_deliveries_total{result=\"delivered\"}"));
        let n: f64 = line.and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        assert!(n > 0.0, "{} delivered none: {line:?}", d.addr);
    }
}

//! Vendor-facing behaviour that is the same for every vendor kind, shown with
//! the sim: outstanding calls are cancelled at the vendor when a campaign is
//! paused, callbacks are authenticated by URL token and source address, and
//! the token travels in the callback URL handed to the vendor.

use crate::common;

use common::daemon::{Daemon, cli};
use common::{ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim};
use doubles::sim::{SimSettings, sign};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pausing_a_campaign_cancels_its_outstanding_calls_at_the_vendor() {
    let db = TestDb::new();
    // One line and slow calls: most of the batch waits at the vendor, queued.
    let sim = start_sim(SimSettings {
        max_lines: 1,
        latency_min: Duration::from_secs(4),
        latency_max: Duration::from_secs(5),
        ..fast_sim(0.0)
    })
    .await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec {
        contacts: 20,
        extra_scheduler: "reconcile_every = \"200ms\"",
        ..ConfigSpec::new(&db.url, &sim_url)
    };
    let config = spec.write(&db, "");
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);

    poll_until(Duration::from_secs(30), "20 calls handed to the vendor", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await == 20).then_some(())
    })
    .await;
    // Numbers suppressed while their calls wait at the vendor: cancelled there.
    // (Two numbers: one line is busy with some call, which may be one of them.)
    let picked = rows(&conn, "SELECT phone FROM contacts ORDER BY id DESC LIMIT 2").await;
    let phones: Vec<String> = picked.iter().map(|r| r.try_get_by_index(0).unwrap()).collect();
    for phone in &phones {
        common::suppress(&conn, phone).await;
    }
    let list = format!("'{}'", phones.join("','"));
    let settled = format!(
        "SELECT COUNT(*) FROM attempts WHERE phone IN ({list}) AND (cancel_requested_at IS NOT NULL OR state = 'completed')"
    );
    poll_until(Duration::from_secs(30), "the suppressed numbers' calls cancelled", || async {
        (scalar(&conn, &settled).await == 2).then_some(())
    })
    .await;
    let cancel_requested = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE cancel_requested_at IS NOT NULL").await;
    let of_suppressed = scalar(
        &conn,
        &format!("SELECT COUNT(*) FROM attempts WHERE phone IN ({list}) AND cancel_requested_at IS NOT NULL"),
    )
    .await;
    assert!(of_suppressed >= 1, "a suppressed number's waiting call is cancelled");
    assert_eq!(cancel_requested, of_suppressed, "only suppressed numbers' calls were cancelled");

    let out = cli(&config, &["pause", "e2e"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // Every outstanding call is cancelled at the vendor; the queued ones come
    // back cancelled (not dialed) and their contacts wait, attempts not consumed.
    poll_until(Duration::from_secs(30), "cancels requested", || async {
        let left = "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched' AND cancel_requested_at IS NULL";
        (scalar(&conn, left).await == 0).then_some(())
    })
    .await;
    poll_until(Duration::from_secs(30), "every outstanding call reported back", || async {
        let open = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
        (open == 0).then_some(())
    })
    .await;
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert_eq!(sim.stats.calls_dialed.load(Relaxed) as i64, completed, "only calls already dialing completed");
    let cancelled = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'cancelled'").await;
    assert_eq!(sim.stats.calls_cancelled.load(Relaxed) as i64, cancelled, "the vendor cancelled exactly those");
    assert_eq!(cancelled + completed, 20);
    assert!(cancelled >= 15, "most calls were still waiting at the vendor: {cancelled} cancelled");
    assert_eq!(
        scalar(&conn, "SELECT COUNT(*) FROM contacts c JOIN attempts a ON a.contact_id = c.id AND a.state = 'cancelled' WHERE c.state = 'waiting_retry' AND c.last_vendor_failed").await,
        cancelled,
        "contacts of cancelled calls wait for the campaign to resume, marked as a vendor-side stop"
    );
    // Nothing is dispatched while paused.
    let attempts = scalar(&conn, "SELECT COUNT(*) FROM attempts").await;
    assert_eq!(attempts, 20);
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_need_the_url_token_and_an_allowed_source_address() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec { contacts: 30, ..ConfigSpec::new(&db.url, &sim_url) };
    // sim-a wants a URL token; sim-b only takes callbacks from 10.0.0.0/8.
    let text = spec
        .render()
        .replacen("max_concurrency = 30\n", "max_concurrency = 30\ncallback_token = \"t0k&n\"\n", 1)
        .replacen("rate_limit = \"50/s\"\n", "rate_limit = \"50/s\"\ncallback_allow_ips = [\"10.0.0.0/8\"]\n", 1);
    let config = db.path("config.toml");
    std::fs::write(
        &config,
        text.replace(r#"vendors = [{ id = "sim-a", weight = 2 }, "sim-b"]"#, r#"vendors = ["sim-a"]"#),
    )
    .unwrap();
    let csv = db.path("contacts.csv");
    common::write_contacts(&csv, 30);
    assert!(cli(&config, &["import", "--campaign", "e2e", csv.to_str().unwrap()]).status.success());
    let conn = db.connect().await;
    let daemon = Daemon::start(&config);

    // The token travels in the callback URL given to the vendor: the campaign completes.
    poll_until(Duration::from_secs(60), "campaign completed through token-checked callbacks", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1).then_some(())
    })
    .await;
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'rejected'").await, 0);

    let body = br#"{"event_id":"x","call_id":"c-x","reference":"999-1","batch_id":"b","status":"ANSWERED","intent":null,"started_at":null,"ended_at":"2026-11-21T10:00:00Z","duration_ms":1}"#.to_vec();
    let client = reqwest::Client::new();
    let post = |url: String| {
        let client = client.clone();
        let body = body.clone();
        async move {
            let r = client.post(url).header("x-sim-signature", sign(SECRET, &body)).body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (s, text) = post(daemon.url("/callbacks/sim-a")).await;
    assert_eq!(s, 401, "{text}");
    assert!(text.contains("missing `token`"), "{text}");
    let (s, text) = post(daemon.url("/callbacks/sim-a?token=wrong")).await;
    assert_eq!(s, 401, "{text}");
    assert!(text.contains("wrong `token`") && !text.contains("t0k"), "no secret in the answer: {text}");
    let (s, text) = post(daemon.url("/callbacks/sim-a?token=t0k%26n")).await;
    assert_eq!(s, 200, "{text}");
    let (s, text) = post(daemon.url("/callbacks/sim-b")).await;
    assert_eq!(s, 401, "{text}");
    assert!(text.contains("127.0.0.1 is not in callback_allow_ips"), "{text}");

    let rejected = rows(&conn, "SELECT error FROM callback_inbox WHERE state = 'rejected' ORDER BY id").await;
    let reasons: Vec<String> = rejected.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.starts_with("unauthorized")), "{reasons:?}");
    drop(daemon);
}

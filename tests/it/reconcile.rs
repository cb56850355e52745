//! Reconciliation with a manual clock: a dispatch whose outcome is unknown is
//! looked up before anything is redialed; an attempt without a result is
//! polled, then declared lost and handed to the recall policy.

use crate::common;

use campaignd::app::App;
use campaignd::clock::{Clock, ManualClock};
use campaignd::context::Ctx;
use campaignd::reconcile::sweep;
use campaignd::scheduler::tick;
use chrono::{TimeZone, Utc};
use common::{API_KEY, SECRET, TestDb, rows, scalar, start_sim};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

async fn build(db: &TestDb, vendor_url: &str) -> (Ctx, Arc<ManualClock>, CancellationToken) {
    let text = format!(
        r#"
[database]
url = "{}"
[http]
listen = "127.0.0.1:0"
[scheduler]
dispatch_timeout = "30s"
result_timeout = "5m"
lost_after = "30m"
[[vendors]]
id = "v"
kind = "sim"
base_url = "{vendor_url}"
api_key = "{API_KEY}"
callback_secret = "{SECRET}"
request_timeout = "500ms"
[[campaigns]]
name = "r"
timezone = "UTC"
windows = "daily 00:00-24:00"
vendors = ["v"]
[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1m"
rules = [{{ when = ["unknown"], retry_after = "10m", max = 2 }}]
"#,
        db.url
    );
    let settings =
        campaignd::config::parse(&text, std::path::Path::new("t.toml"), db.dir.path(), &campaignd::vendors::Kinds)
            .unwrap();
    // In the future: the simulator judges `not_after` on the real clock.
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2030, 1, 7, 12, 0, 0).unwrap()));
    let app = App::build(settings, clock.clone()).await.unwrap();
    let shutdown = CancellationToken::new();
    let (ctx, _http) = app.serve_http_only(shutdown.clone());
    let row = campaignd::store::campaigns::find_by_name(&ctx.db, "r").await.unwrap();
    let csv = "phone\n+442079000001\n+442079000002\n";
    campaignd::import::import_csv(&ctx.db, &row, csv.as_bytes(), None, clock.now()).await.unwrap();
    (ctx, clock, shutdown)
}

fn states(rows: &[sea_orm::QueryResult]) -> Vec<String> {
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dispatch_is_looked_up_before_any_redial() {
    // A vendor that accepts connections and never answers: the dispatch
    // outcome is unknown (timeout after the request was sent).
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            open.push(sock);
        }
    });
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, &silent_url).await;
    tick(&ctx, clock.now()).await.unwrap(); // start
    let r = tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(r.claimed, 2);
    assert_eq!(
        states(&rows(&ctx.db, "SELECT state FROM attempts ORDER BY id").await),
        ["dispatching", "dispatching"],
        "an unanswered dispatch must stay unknown, not be retried"
    );
    // Nothing is redialed while the outcome is unknown, however often we tick.
    clock.advance(chrono::Duration::minutes(5));
    tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts").await, 2);
    // The lookup cannot reach the vendor either: still nothing redialed.
    sweep(&ctx, clock.now()).await.unwrap();
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatching'").await, 2);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_dispatch_the_vendor_never_got_is_retried_without_consuming_an_attempt() {
    let db = TestDb::new();
    let sim = start_sim(common::fast_sim(0.0)).await;
    let (ctx, clock, shutdown) = build(&db, &sim.base_url()).await;
    tick(&ctx, clock.now()).await.unwrap();
    // Simulate a crash between claim and dispatch: attempts exist, durable,
    // `dispatching`, but the vendor never saw them.
    let caps = ctx.vendors.caps(chrono::Utc::now());
    let camp = ctx.campaign(1).await.unwrap();
    let lease = campaignd::store::claim::Lease {
        owner: "an-instance-that-died",
        until: clock.now() + chrono::Duration::seconds(30),
    };
    let claim = campaignd::store::claim::claim(&ctx.db, &camp, &caps, 10, &lease, clock.now()).await.unwrap();
    assert_eq!(claim.claimed.len(), 2);
    clock.advance(chrono::Duration::seconds(31));
    let rep = sweep(&ctx, clock.now()).await.unwrap();
    assert_eq!(rep.never_received, 2, "{rep:?}");
    assert_eq!(states(&rows(&ctx.db, "SELECT state FROM attempts ORDER BY id").await), ["failed", "failed"]);
    let c = rows(&ctx.db, "SELECT state, recall_history FROM contacts ORDER BY id").await;
    assert_eq!(c[0].try_get_by_index::<String>(0).unwrap(), "waiting_retry");
    let history: serde_json::Value = c[0].try_get_by_index(1).unwrap();
    assert_eq!(history["attempts_used"], 0, "a vendor that never got the call does not use an attempt: {history}");
    shutdown.cancel();
    drop(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_without_result_is_polled_then_lost_and_the_policy_decides() {
    let db = TestDb::new();
    // Calls that take an hour: no callback arrives during the test.
    let sim = start_sim(doubles::sim::SimSettings {
        latency_min: Duration::from_secs(3600),
        latency_max: Duration::from_secs(3600),
        ..common::fast_sim(0.0)
    })
    .await;
    let (ctx, clock, shutdown) = build(&db, &sim.base_url()).await;
    tick(&ctx, clock.now()).await.unwrap();
    tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(states(&rows(&ctx.db, "SELECT state FROM attempts ORDER BY id").await), ["dispatched", "dispatched"]);

    // Past result_timeout: the vendor says it is still going; the deadline moves.
    clock.advance(chrono::Duration::minutes(6));
    let rep = sweep(&ctx, clock.now()).await.unwrap();
    assert_eq!(rep.confirmed, 2, "{rep:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await, 2);

    // Past lost_after: given up, cancelled at the vendor, and the recall
    // policy treats it as `unknown` (rule: retry after 10m).
    clock.advance(chrono::Duration::minutes(30));
    let rep = sweep(&ctx, clock.now()).await.unwrap();
    assert_eq!(rep.lost, 2, "{rep:?}");
    assert_eq!(states(&rows(&ctx.db, "SELECT state FROM attempts ORDER BY id").await), ["lost", "lost"]);
    let c = rows(&ctx.db, "SELECT state, due_at FROM contacts ORDER BY id").await;
    assert_eq!(c[0].try_get_by_index::<String>(0).unwrap(), "waiting_retry");
    let due: chrono::DateTime<Utc> = c[0].try_get_by_index(1).unwrap();
    assert!(due >= clock.now() + chrono::Duration::minutes(10), "retry spaced by the rule: {due}");
    assert!(sim.stats.calls_cancelled.load(std::sync::atomic::Ordering::Relaxed) <= 2);
    shutdown.cancel();
}

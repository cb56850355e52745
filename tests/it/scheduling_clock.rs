//! The scheduler driven step by step with a manual clock: no dispatch outside
//! the callee's window across a DST change and a blackout date; SQL edits
//! take effect within one tick; the due-contacts query is an index range scan.

use crate::common;

use campaignd::app::App;
use campaignd::clock::{Clock, ManualClock};
use campaignd::context::Ctx;
use campaignd::ingest::processor::drain;
use campaignd::scheduler::tick;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use common::{API_KEY, SECRET, TestDb, poll_until, rows, scalar, start_sim};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Near-instant calls with the given outcome weights.
fn quick_sim(outcomes: &[(&str, f64)]) -> doubles::sim::SimSettings {
    doubles::sim::SimSettings {
        latency_min: Duration::from_millis(1),
        latency_max: Duration::from_millis(3),
        outcomes: outcomes.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..common::fast_sim(0.0)
    }
}

fn config(db_url: &str, sim_url: &str, campaign: &str) -> String {
    format!(
        r#"
[database]
url = "{db_url}"
[http]
listen = "127.0.0.1:0"
[[vendors]]
id = "sim"
kind = "sim"
base_url = "{sim_url}"
api_key = "{API_KEY}"
callback_secret = "{SECRET}"
# Above every campaign's cap here: the campaigns' caps are what bind.
max_concurrency = 1000
{campaign}
"#
    )
}

async fn build(
    db: &TestDb,
    sim_url: &str,
    campaign: &str,
    start: DateTime<Utc>,
) -> (Ctx, Arc<ManualClock>, CancellationToken) {
    let text = config(&db.url, sim_url, campaign);
    let settings =
        campaignd::config::parse(&text, std::path::Path::new("test.toml"), db.dir.path(), &campaignd::vendors::Kinds)
            .expect("config");
    let clock = Arc::new(ManualClock::new(start));
    let app = App::build(settings, clock.clone()).await.expect("build app");
    let shutdown = CancellationToken::new();
    let (ctx, _http) = app.serve_http_only(shutdown.clone());
    (ctx, clock, shutdown)
}

/// Let every dispatched call report back and apply the results.
async fn settle(ctx: &Ctx, sim: &doubles::sim::SimHandle) {
    poll_until(Duration::from_secs(20), "results applied", || async {
        drain(ctx).await.expect("drain");
        let open = scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
        (open == 0 && sim.stats.callbacks_pending.load(Relaxed) == 0).then_some(())
    })
    .await;
}

fn import(ctx: &Ctx, db: &TestDb, name: &str, lines: &[String]) -> impl std::future::Future<Output = ()> {
    let path = db.path(&format!("{name}.csv"));
    std::fs::write(&path, format!("phone,timezone\n{}\n", lines.join("\n"))).unwrap();
    let ctx = ctx.clone();
    let name = name.to_string();
    async move {
        let row = campaignd::store::campaigns::find_by_name(&ctx.db, &name).await.unwrap();
        let file = std::fs::File::open(path).unwrap();
        let rep = campaignd::import::import_csv(&ctx.db, &row, file, None, ctx.clock.now()).await.unwrap();
        assert_eq!(rep.rejected, 0, "{:?}", rep.errors);
    }
}

/// Independent oracle for `mon-fri 09:00-12:00,14:00-20:00; sat 10:00-14:00`
/// minus the blackout date, on the callee's wall clock.
fn allowed(at: DateTime<Utc>, tz: Tz) -> bool {
    let local = at.with_timezone(&tz);
    if local.date_naive() == NaiveDate::from_ymd_opt(2027, 3, 16).unwrap() {
        return false;
    }
    let m = local.hour() * 60 + local.minute();
    match local.weekday() {
        Weekday::Sat => (600..840).contains(&m),
        Weekday::Sun => false,
        _ => (540..720).contains(&m) || (840..1200).contains(&m),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dispatch_outside_the_callees_window_across_dst_and_blackout() {
    let db = TestDb::new();
    let sim = start_sim(quick_sim(&[("NO_ANSWER", 85.0), ("ANSWERED", 15.0)])).await;
    let campaign = r#"
[[campaigns]]
name = "dst"
timezone = "America/New_York"
windows = "mon-fri 09:00-12:00,14:00-20:00; sat 10:00-14:00"
blackout_dates = ["2027-03-16"]
max_concurrency = 50
vendors = ["sim"]
[campaigns.recall]
max_attempts = 6
rules = [{ when = ["no_answer"], retry_after = "20h", max = 5 }]
"#;
    // Friday 2027-03-12 00:00 UTC; US clocks spring forward on Sunday 03-14.
    // (In the future, because the simulator cancels calls whose window end
    // has passed on the real clock.)
    let start = Utc.with_ymd_and_hms(2027, 3, 12, 0, 0, 0).unwrap();
    let (ctx, clock, shutdown) = build(&db, &sim.base_url(), campaign, start).await;
    let zones = ["America/New_York", "Europe/London", "Asia/Jakarta", "Australia/Lord_Howe", ""];
    // Numbers of a non-geographic code (+882, international networks): the
    // number says nothing about where the callee is, so each contact's own
    // zone (or the campaign's) alone decides.
    let lines: Vec<String> = (0..150).map(|i| format!("+8821655{:04},{}", i, zones[i % zones.len()])).collect();
    import(&ctx, &db, "dst", &lines).await;

    let mut deferred = 0;
    let end = Utc.with_ymd_and_hms(2027, 3, 18, 0, 0, 0).unwrap();
    while clock.now() < end {
        let report = tick(&ctx, clock.now()).await.expect("tick");
        deferred += report.deferred;
        settle(&ctx, &sim).await;
        clock.advance(chrono::Duration::minutes(10));
    }
    shutdown.cancel();

    let attempts = rows(
        &ctx.db,
        "SELECT a.attempt_ref, a.created_at, COALESCE(c.timezone, 'America/New_York') FROM attempts a \
         JOIN contacts c ON c.id = a.contact_id ORDER BY a.id",
    )
    .await;
    assert!(attempts.len() > 300, "the week must have produced many attempts, got {}", attempts.len());
    let cancelled = scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'cancelled'").await;
    assert_eq!(cancelled, 0, "every dispatch reached the vendor inside its window");
    let mut on_dst_monday_ny = 0;
    for r in &attempts {
        let reference: String = r.try_get_by_index(0).unwrap();
        let at: DateTime<Utc> = r.try_get_by_index(1).unwrap();
        let tz: Tz = r.try_get_by_index::<String>(2).unwrap().parse().unwrap();
        assert!(
            allowed(at, tz),
            "attempt {reference} dispatched at {at} = {} local, outside the window",
            at.with_timezone(&tz)
        );
        if tz == chrono_tz::America::New_York
            && at.with_timezone(&tz).date_naive() == NaiveDate::from_ymd_opt(2027, 3, 15).unwrap()
        {
            on_dst_monday_ny += 1;
        }
    }
    assert!(on_dst_monday_ny > 0, "New York callees must be dialed on the Monday after the DST change");
    assert!(deferred > 0, "contacts outside their window must have been deferred");
    // Every zone got dialed: windows were evaluated per callee, not per campaign.
    let zones_dialed = scalar(
        &ctx.db,
        "SELECT COUNT(DISTINCT COALESCE(c.timezone, '-')) FROM attempts a JOIN contacts c ON c.id = a.contact_id",
    )
    .await;
    assert_eq!(zones_dialed, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_edits_take_effect_within_one_tick() {
    let db = TestDb::new();
    let sim = start_sim(quick_sim(&[("NO_ANSWER", 100.0)])).await;
    let campaign = r#"
[[campaigns]]
name = "edits"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 10
vendors = ["sim"]
[campaigns.recall]
max_attempts = 10
rules = [{ when = ["no_answer"], retry_after = "1m", max = 9 }]

[[campaigns]]
name = "other"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 5
vendors = ["sim"]
"#;
    let start = Utc.with_ymd_and_hms(2027, 6, 7, 12, 0, 0).unwrap(); // a Monday
    let (ctx, clock, shutdown) = build(&db, &sim.base_url(), campaign, start).await;
    let lines: Vec<String> = (0..100).map(|i| format!("+4420790{:05},", i)).collect();
    import(&ctx, &db, "edits", &lines).await;
    import(&ctx, &db, "other", &lines[..20]).await;
    let step = |mins| clock.advance(chrono::Duration::minutes(mins));

    tick(&ctx, clock.now()).await.unwrap(); // scheduled -> running
    let r = tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(r.claimed, 15, "10 for `edits` and 5 for `other`");
    settle(&ctx, &sim).await;

    ctx.db.execute_unprepared("UPDATE campaigns SET state = 'paused' WHERE name = 'edits'").await.unwrap();
    step(2);
    let r = tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(r.claimed, 5, "paused by SQL: only `other` dials");
    settle(&ctx, &sim).await;

    ctx.db
        .execute_unprepared("UPDATE campaigns SET state = 'running', max_concurrency = 3 WHERE name = 'edits'")
        .await
        .unwrap();
    step(2);
    let r = tick(&ctx, clock.now()).await.unwrap();
    let in_flight = scalar(&ctx.db, "SELECT COUNT(*) FROM attempts a JOIN campaigns c ON c.id = a.campaign_id WHERE c.name = 'edits' AND a.state IN ('dispatching','dispatched')").await;
    assert!(in_flight <= 3, "new cap applies at once, {in_flight} in flight");
    assert!(r.claimed >= 3);
    settle(&ctx, &sim).await;

    // A window edit: closed until next Monday 00:00.
    ctx.db.execute_unprepared("UPDATE campaigns SET windows = 'mon 00:00-01:00' WHERE name = 'edits'").await.unwrap();
    step(2);
    let before = scalar(&ctx.db, "SELECT COUNT(*) FROM attempts").await;
    let r = tick(&ctx, clock.now()).await.unwrap();
    let after = scalar(&ctx.db, "SELECT COUNT(*) FROM attempts").await;
    assert!(r.deferred > 0, "due contacts deferred to the new window");
    assert_eq!(after - before, r.claimed as i64);
    // The numbers are British (+44): the window is judged on London time,
    // and Monday 00:00 in London is Sunday 23:00 UTC in June.
    let early = scalar(&ctx.db, &format!("SELECT COUNT(*) FROM contacts c JOIN campaigns k ON k.id = c.campaign_id WHERE k.name = 'edits' AND c.due_at IS NOT NULL AND c.due_at < '{}'", "2027-06-13T23:00:00")).await;
    assert_eq!(early, 0, "nothing of `edits` is due before next Monday");

    // A broken edit is reported and skipped; the other campaign keeps going.
    ctx.db.execute_unprepared("UPDATE campaigns SET windows = 'garbage' WHERE name = 'edits'").await.unwrap();
    step(2);
    tick(&ctx, clock.now()).await.expect("a bad row must not fail the tick");
    shutdown.cancel();
}

#[tokio::test]
async fn due_contacts_query_is_an_index_range_scan() {
    let db = TestDb::sqlite();
    let conn = db.connect().await;
    campaignd::store::db::migrate(&conn).await.unwrap();
    let query = campaignd::store::claim::due_contacts(1, Utc::now(), 100).build(DbBackend::Sqlite).to_string();
    let plan = conn
        .query_all_raw(Statement::from_string(DbBackend::Sqlite, format!("EXPLAIN QUERY PLAN {query}")))
        .await
        .unwrap();
    let text: Vec<String> = plan.iter().map(|r| r.try_get::<String>("", "detail").unwrap()).collect();
    let text = text.join(" | ");
    assert!(text.contains("USING INDEX ix_contacts_campaign_due"), "plan: {text}");
    assert!(!text.contains("SCAN contacts"), "full scan in plan: {text}");
    assert!(!text.contains("TEMP B-TREE"), "sort not served by the index: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_campaign_row_holds_back_only_its_own_callbacks() {
    let db = TestDb::new();
    let sim = start_sim(quick_sim(&[("ANSWERED", 100.0)])).await;
    let campaigns = r#"
[[campaigns]]
name = "broken"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 10
vendors = ["sim"]

[[campaigns]]
name = "healthy"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 10
vendors = ["sim"]
"#;
    let start = Utc.with_ymd_and_hms(2027, 6, 7, 12, 0, 0).unwrap();
    let (ctx, clock, shutdown) = build(&db, &sim.base_url(), campaigns, start).await;
    // Different numbers: one number is never on two calls at once, so shared
    // numbers would wait for each other.
    let lines = |from: usize| (from..from + 10).map(|i| format!("+4420790{:05},", i)).collect::<Vec<_>>();
    import(&ctx, &db, "broken", &lines(0)).await;
    import(&ctx, &db, "healthy", &lines(100)).await;
    tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(tick(&ctx, clock.now()).await.unwrap().claimed, 20);
    poll_until(Duration::from_secs(20), "all callbacks stored", || async {
        (scalar(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await == 20).then_some(())
    })
    .await;

    ctx.db
        .execute_unprepared("UPDATE campaigns SET recall_policy = '{\"rules\": 7}' WHERE name = 'broken'")
        .await
        .unwrap();
    let report = drain(&ctx).await.expect("a poison row must not fail the drain");
    assert_eq!(report.applied, 10, "the healthy campaign's results apply: {report:?}");
    assert_eq!(report.failed, 10, "{report:?}");
    assert_eq!(
        scalar(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await,
        10,
        "kept, not dropped"
    );

    ctx.db
        .execute_unprepared("UPDATE campaigns SET recall_policy = '{\"max_attempts\": 3}' WHERE name = 'broken'")
        .await
        .unwrap();
    // A row that failed backs off (at most 30 s) instead of being retried in
    // every pass; once its time has come it applies.
    assert_eq!(drain(&ctx).await.unwrap().rows, 0, "failed rows wait for their backoff");
    clock.advance(chrono::Duration::seconds(31));
    let report = drain(&ctx).await.unwrap();
    assert_eq!((report.applied, report.failed), (10, 0), "{report:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM contacts WHERE state = 'done'").await, 20);
    shutdown.cancel();
}

/// A tick of `claim_batch` 1000 to a vendor that takes 500 calls a request
/// claims in pieces on SQLite (the next piece while the vendor answers the
/// one before; on PostgreSQL in one claim, see
/// `store::claim::overlaps_vendor_calls`). Either way each claim counts
/// what the ones before it put in flight against the campaign's cap, and
/// the tick returns only once every piece it claimed is recorded as
/// dispatched, however long the vendor takes to answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_in_pieces_keeps_the_cap_and_records_every_piece() {
    let db = TestDb::new();
    let sim = start_sim(quick_sim(&[("NO_ANSWER", 100.0)])).await;
    sim.hold_answers(Duration::from_millis(300));
    let campaign = r#"
[scheduler]
claim_batch = 1000

[[campaigns]]
name = "pieces"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 700
vendors = ["sim"]
"#;
    let start = Utc.with_ymd_and_hms(2027, 6, 7, 12, 0, 0).unwrap();
    let (ctx, clock, shutdown) = build(&db, &sim.base_url(), campaign, start).await;
    let lines: Vec<String> = (0..1200).map(|i| format!("+4420790{:05},", i)).collect();
    import(&ctx, &db, "pieces", &lines).await;

    tick(&ctx, clock.now()).await.unwrap(); // scheduled -> running
    let report = tick(&ctx, clock.now()).await.unwrap();
    assert_eq!(report.claimed, 700, "the campaign's cap, not the claim batch: {report:?}");
    let count = |sql: &'static str| scalar(&ctx.db, sql);
    assert_eq!(count("SELECT COUNT(*) FROM attempts").await, 700);
    assert_eq!(count("SELECT COUNT(*) FROM attempts WHERE state = 'dispatched'").await, 700, "every piece recorded");
    assert_eq!(count("SELECT COUNT(*) FROM vendor_tasks").await, 2, "one request per piece of at most 500");
    assert_eq!(count("SELECT COUNT(*) FROM vendor_tasks WHERE state = 'accepted' AND size = 500").await, 1);
    assert_eq!(count("SELECT COUNT(*) FROM vendor_tasks WHERE state = 'accepted' AND size = 200").await, 1);
    assert_eq!(sim.stats.calls_accepted.load(Relaxed), 700);
    assert_eq!(sim.stats.batches_held.load(Relaxed), 0, "no answer was still out when the tick returned");
    shutdown.cancel();
}

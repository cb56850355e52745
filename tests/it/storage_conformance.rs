//! Storage conformance: what several daemon instances rely on from the
//! database, checked on whichever backend `CAMPAIGND_TEST_DATABASE_URL`
//! names (unset: a fresh SQLite file). CI runs this file on both.
//!
//! Concurrency here is real: several transactions from one pool at once. On
//! SQLite they take turns (one writer); on PostgreSQL they overlap and the
//! row locks, `SKIP LOCKED` and advisory locks must keep the same promises.

use crate::common;

use campaignd::app::App;
use campaignd::clock::{Clock, ManualClock};
use campaignd::context::Ctx;
use campaignd::store::claim::{Lease, claim};
use campaignd::store::db::{Writer, begin_write};
use campaignd::store::inbox::{self, NewCallback};
use campaignd::store::leases::{self, LEADER};
use campaignd::store::vendor_limits::{self, Bucket};
use chrono::{DateTime, TimeZone, Utc};
use common::{API_KEY, SECRET, TestDb, rows, scalar};
use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 7, 12, 0, 0).unwrap()
}

/// Two campaigns over the same numbers, each routed to its own vendor (so
/// only the per-number locks stand between their claims), `contacts` each.
pub(crate) async fn build(db: &TestDb, contacts: usize, vendor_cap: u32) -> (Ctx, Arc<ManualClock>, CancellationToken) {
    let tables = [
        vendor_toml("va", vendor_cap),
        vendor_toml("vb", vendor_cap),
        campaign_toml("a", r#"["va"]"#),
        campaign_toml("b", r#"["vb"]"#),
    ];
    let (ctx, clock, shutdown) = serve(db, &tables.concat()).await;
    for name in ["a", "b"] {
        import_numbers(&ctx, &clock, name, 0..contacts).await;
    }
    (ctx, clock, shutdown)
}

/// A `sim` vendor's table that nothing is ever sent to.
fn vendor_toml(id: &str, max_concurrency: u32) -> String {
    format!(
        r#"
[[vendors]]
id = "{id}"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "{API_KEY}"
callback_secret = "{SECRET}"
max_concurrency = {max_concurrency}
rate_limit = "5/s"
"#
    )
}

/// A campaign open around the clock, routed to `vendors` (a TOML array).
fn campaign_toml(name: &str, vendors: &str) -> String {
    format!(
        r#"
[[campaigns]]
name = "{name}"
timezone = "UTC"
windows = "daily 00:00-24:00"
max_concurrency = 10000
vendors = {vendors}
[campaigns.recall]
max_attempts = 3
"#
    )
}

/// The daemon's context over `db` with these vendor and campaign tables,
/// its HTTP side only (no scheduler, no processor), at [`t0`].
async fn serve(db: &TestDb, tables: &str) -> (Ctx, Arc<ManualClock>, CancellationToken) {
    let text =
        format!("[database]\nurl = \"{}\"\nmax_connections = 12\n[http]\nlisten = \"127.0.0.1:0\"\n{tables}", db.url);
    let settings =
        campaignd::config::parse(&text, std::path::Path::new("t.toml"), db.dir.path(), &campaignd::vendors::Kinds)
            .unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let app = App::build(settings, clock.clone()).await.unwrap();
    let shutdown = CancellationToken::new();
    let (ctx, _http) = app.serve_http_only(shutdown.clone());
    (ctx, clock, shutdown)
}

/// Numbers `+44207900NNNN` for each N of `range`, imported into campaign `name`.
async fn import_numbers(ctx: &Ctx, clock: &ManualClock, name: &str, range: std::ops::Range<usize>) {
    let mut csv = String::from("phone\n");
    for i in range {
        csv.push_str(&format!("+44207900{i:04}\n"));
    }
    let row = campaignd::store::campaigns::find_by_name(&ctx.db, name).await.unwrap();
    campaignd::import::import_csv(&ctx.db, &row, csv.as_bytes(), None, clock.now()).await.unwrap();
}

/// Four instances claim campaign `name` at once.
pub(crate) async fn claim_concurrently(ctx: &Ctx, name: &str, now: DateTime<Utc>) -> Vec<(String, i64)> {
    let row = campaignd::store::campaigns::find_by_name(&ctx.db, name).await.unwrap();
    let camp = ctx.campaign(row.id).await.unwrap();
    let slots = ctx.vendors.caps(now);
    let owners: Vec<String> = (0..4).map(|i| format!("{name}-instance-{i}")).collect();
    let claims = owners.iter().map(|owner| {
        let (camp, slots, db) = (&camp, &slots, &ctx.db);
        async move {
            let lease = Lease { owner, until: now + chrono::Duration::seconds(30) };
            let report = claim(db, camp, slots, 500, &lease, now).await.unwrap();
            report.claimed.into_iter().map(|c| (owner.clone(), c.contact_id)).collect::<Vec<_>>()
        }
    });
    futures::future::join_all(claims).await.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_share_the_caps_and_never_claim_a_contact_twice() {
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 300, 50).await;
    let claimed = claim_concurrently(&ctx, "a", clock.now()).await;
    // The vendor cap (50) binds: the four claims together take exactly 50.
    assert_eq!(claimed.len(), 50, "claims together must fill the vendor cap exactly once");
    let contacts: BTreeSet<i64> = claimed.iter().map(|(_, id)| *id).collect();
    assert_eq!(contacts.len(), 50, "a contact was claimed by two instances");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'dispatching'").await, 50);
    // Every attempt carries its claimer's lease.
    let leased = rows(&ctx.db, "SELECT lease_owner FROM attempts").await;
    let mut per_owner: HashMap<String, usize> = HashMap::new();
    for r in &leased {
        *per_owner.entry(r.try_get_by_index::<String>(0).unwrap()).or_default() += 1;
    }
    let expected: HashMap<String, usize> = claimed.iter().fold(HashMap::new(), |mut m, (o, _)| {
        *m.entry(o.clone()).or_default() += 1;
        m
    });
    assert_eq!(per_owner, expected, "lease owners in the database differ from who claimed");
    // Nothing is free any more: a fifth claim takes nothing.
    assert!(claim_concurrently(&ctx, "a", clock.now()).await.is_empty());
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_campaigns_claiming_at_once_never_put_one_number_in_flight_twice() {
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 120, 1000).await;
    let now = clock.now();
    let (a, b) = tokio::join!(claim_concurrently(&ctx, "a", now), claim_concurrently(&ctx, "b", now));
    let twice = scalar(
        &ctx.db,
        "SELECT COUNT(*) FROM (SELECT phone FROM attempts WHERE state IN ('dispatching', 'dispatched') \
         GROUP BY phone HAVING COUNT(*) > 1) t",
    )
    .await;
    assert_eq!(twice, 0, "a number was put in flight by both campaigns at once");
    // Each number went to exactly one of them; the other saw it busy.
    assert_eq!(a.len() + b.len(), 120, "every number is dialed by one campaign: a {} b {}", a.len(), b.len());
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_lease_has_one_holder_and_passes_on_at_expiry_or_release() {
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 0, 10).await;
    let (db, ttl, t) = (&ctx.db, Duration::from_secs(10), clock.now());
    // Two instances race for a free lease: exactly one wins.
    let (x, y) =
        tokio::join!(leases::try_acquire(db, LEADER, "x", ttl, t), leases::try_acquire(db, LEADER, "y", ttl, t));
    let (winner, loser) = match (x.unwrap(), y.unwrap()) {
        (true, false) => ("x", "y"),
        (false, true) => ("y", "x"),
        other => panic!("exactly one instance must win the lease, got {other:?}"),
    };
    assert_eq!(leases::holder(db, LEADER, t).await.unwrap().unwrap().owner, winner);
    // The holder renews; the other cannot take it before it expires.
    let t1 = t + chrono::Duration::seconds(8);
    assert!(leases::try_acquire(db, LEADER, winner, ttl, t1).await.unwrap());
    assert!(!leases::try_acquire(db, LEADER, loser, ttl, t1 + chrono::Duration::seconds(9)).await.unwrap());
    // The holder stops renewing (it died): after expiry the other takes over,
    // and the old holder's late renewal fails.
    let t2 = t1 + chrono::Duration::seconds(11);
    assert!(leases::try_acquire(db, LEADER, loser, ttl, t2).await.unwrap());
    assert!(!leases::try_acquire(db, LEADER, winner, ttl, t2).await.unwrap());
    let held = leases::holder(db, LEADER, t2).await.unwrap().unwrap();
    assert_eq!((held.owner.as_str(), held.acquired_at), (loser, t2), "a takeover starts a new tenure");
    // A clean shutdown hands over at once.
    assert!(leases::release(db, LEADER, loser).await.unwrap());
    assert!(leases::try_acquire(db, LEADER, winner, ttl, t2).await.unwrap());
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_rate_limit_bucket_serves_every_connection() {
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 0, 10).await;
    let bucket = Bucket { rate: 5.0, burst: 5.0 };
    let t = clock.now() + chrono::Duration::seconds(60); // the bucket is full
    // Twelve requests at the same instant from the pool's connections.
    let takes = (0..12).map(|_| vendor_limits::take_token(&ctx.db, "va", bucket, t));
    let results: Vec<_> = futures::future::join_all(takes).await.into_iter().map(Result::unwrap).collect();
    let granted = results.iter().filter(|w| w.is_none()).count();
    assert_eq!(granted, 5, "a full bucket of 5 grants 5 requests, whoever asks: {results:?}");
    assert!(results.iter().flatten().all(|w| *w > Duration::ZERO && *w <= Duration::from_millis(200)));
    // 400 ms later two more tokens have come in.
    let later = t + chrono::Duration::milliseconds(400);
    assert_eq!(vendor_limits::take_token(&ctx.db, "va", bucket, later).await.unwrap(), None);
    assert_eq!(vendor_limits::take_token(&ctx.db, "va", bucket, later).await.unwrap(), None);
    assert!(vendor_limits::take_token(&ctx.db, "va", bucket, later).await.unwrap().is_some());
    // Another vendor has its own bucket.
    assert_eq!(vendor_limits::take_token(&ctx.db, "vb", bucket, later).await.unwrap(), None);
    shutdown.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inbox_rows_are_taken_by_one_drainer_each() {
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 0, 10).await;
    let callbacks = (0..30)
        .map(|i| NewCallback {
            vendor_id: "va".into(),
            remote_addr: None,
            headers: serde_json::json!({}),
            body: format!("{{\"n\":{i}}}").into_bytes(),
            state: campaignd::domain::state::InboxState::Pending,
            error: None,
            received_at: clock.now(),
        })
        .collect();
    inbox::insert_many(&ctx.db, callbacks).await.unwrap();
    if ctx.db.get_database_backend() == DbBackend::Postgres {
        // A page held open by one instance is skipped, not waited for, by another.
        let first = ctx.db.begin().await.unwrap();
        let mine = inbox::claim_due(&first, clock.now(), None, 10).await.unwrap();
        let second = ctx.db.begin().await.unwrap();
        let theirs = inbox::claim_due(&second, clock.now(), None, 100).await.unwrap();
        assert_eq!((mine.len(), theirs.len()), (10, 20));
        let ids = |rows: &[entity::callback_inbox::Model]| rows.iter().map(|r| r.id).collect::<BTreeSet<_>>();
        assert!(ids(&mine).is_disjoint(&ids(&theirs)), "a row was handed to two drainers");
        first.rollback().await.unwrap();
        second.rollback().await.unwrap();
    }
    // Three drainers at once, each marking what it took: every row once.
    let drain = |n: usize| {
        let db = ctx.db.clone();
        let now = clock.now();
        async move {
            let mut taken = Vec::new();
            loop {
                let txn = begin_write(&db, Writer::Other).await.unwrap();
                let page = inbox::claim_due(&txn, now, None, 4).await.unwrap();
                if page.is_empty() {
                    return (n, taken);
                }
                for row in &page {
                    inbox::mark(&txn, row.id, campaignd::domain::state::InboxState::Processed, None, 0, now)
                        .await
                        .unwrap();
                    taken.push(row.id);
                }
                txn.commit().await.unwrap();
            }
        }
    };
    let all = futures::future::join_all((0..3).map(drain)).await;
    let taken: Vec<i64> = all.iter().flat_map(|(_, t)| t.iter().copied()).collect();
    let distinct: BTreeSet<i64> = taken.iter().copied().collect();
    assert_eq!((taken.len(), distinct.len()), (30, 30), "rows taken: {all:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    shutdown.cancel();
}

/// Two fresh databases (a second deployment, a staging copy on the same
/// vendor account) never hand a vendor the same reference: the migration
/// writes a random installation id and every claimed reference carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fresh_databases_never_produce_the_same_reference() {
    let (db1, db2) = (TestDb::new(), TestDb::new());
    let (ctx1, clock1, stop1) = build(&db1, 20, 1000).await;
    let (ctx2, clock2, stop2) = build(&db2, 20, 1000).await;
    let id1 = campaignd::store::installation::id(&ctx1.db).await.unwrap();
    let id2 = campaignd::store::installation::id(&ctx2.db).await.unwrap();
    assert_ne!(id1, id2, "two databases got one installation id");
    assert_eq!(id1.len(), 12, "{id1}");
    let refs = |ctx: &Ctx, now| {
        let ctx = ctx.clone();
        async move {
            claim_concurrently(&ctx, "a", now).await;
            rows(&ctx.db, "SELECT attempt_ref FROM attempts")
                .await
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect::<BTreeSet<String>>()
        }
    };
    let (r1, r2) = (refs(&ctx1, clock1.now()).await, refs(&ctx2, clock2.now()).await);
    assert_eq!((r1.len(), r2.len()), (20, 20));
    assert!(r1.is_disjoint(&r2), "the same reference in two databases: {:?}", r1.intersection(&r2).next());
    assert!(r1.iter().all(|r| r.starts_with(&format!("{id1}-"))), "{r1:?}");
    // The same contact and attempt number in both: only the installation differs.
    let one = r1.iter().next().unwrap().trim_start_matches(&id1).to_string();
    assert!(r2.contains(&format!("{id2}{one}")), "{one} missing from the second database");
    stop1.cancel();
    stop2.cancel();
}

/// A result that names no reference, call id or task (Laaffic's push) is
/// matched on (vendor, phone) and its time: a late result of an earlier
/// attempt never lands on the newer attempt in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_without_references_finds_its_attempt_by_phone_and_time() {
    use campaignd::domain::outcome::{Disposition, Outcome};
    use campaignd::store::apply::find_attempt;
    use campaignd::vendors::CallEvent;
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 1, 1000).await;
    let t1 = clock.now();
    claim_concurrently(&ctx, "a", t1).await;
    // The first attempt ends; the contact is claimed again two hours later.
    ctx.db
        .execute_unprepared(
            "UPDATE attempts SET state = 'completed'; UPDATE contacts SET state = 'pending', due_at = created_at",
        )
        .await
        .unwrap();
    let t2 = t1 + chrono::Duration::hours(2);
    clock.set(t2);
    claim_concurrently(&ctx, "a", t2).await;
    let phone = "+442079000000".to_string();
    let event = |at| CallEvent {
        phone: Some(phone.clone()),
        started_at: Some(at),
        ..CallEvent::final_outcome(Outcome::new(Disposition::Answered))
    };
    let attempt_no = |a: Option<entity::attempt::Model>| a.map(|a| a.attempt_no);
    let late = find_attempt(&ctx.db, "va", &event(t1 + chrono::Duration::minutes(3))).await.unwrap();
    assert_eq!(attempt_no(late), Some(1), "a late result of attempt 1 must find attempt 1");
    let current = find_attempt(&ctx.db, "va", &event(t2 + chrono::Duration::minutes(1))).await.unwrap();
    assert_eq!(attempt_no(current), Some(2));
    let before_any = find_attempt(&ctx.db, "va", &event(t1 - chrono::Duration::hours(1))).await.unwrap();
    assert_eq!(attempt_no(before_any), None, "a call before any attempt is not ours");
    let other_vendor = find_attempt(&ctx.db, "vb", &event(t2)).await.unwrap();
    assert_eq!(attempt_no(other_vendor), None, "another vendor's attempts are not candidates");
    let untimed = CallEvent { started_at: None, ..event(t2) };
    assert_eq!(
        attempt_no(find_attempt(&ctx.db, "va", &untimed).await.unwrap()),
        None,
        "no time, two attempts: unfenced"
    );
    shutdown.cancel();
}

/// Dials are recorded as they happened: one row per real dial, the final
/// outcome on the last only, each time clamped into [attempt claimed,
/// result applied] with the vendor's own time kept beside it (a vendor once
/// reported dials 11 days before it was handed the number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dials_keep_their_own_outcomes_and_vendor_times_are_clamped() {
    use campaignd::domain::outcome::{Disposition, Intent, Outcome};
    use campaignd::ingest::processor::{EventApplied, apply_event};
    use campaignd::store::apply::WriteBuffer;
    use campaignd::vendors::{CallEvent, VendorRedial};
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 1, 1000).await;
    let claimed_at = clock.now();
    claim_concurrently(&ctx, "a", claimed_at).await;
    let now = claimed_at + chrono::Duration::minutes(30);
    let eleven_days_early = claimed_at - chrono::Duration::days(11);
    let in_range = claimed_at + chrono::Duration::minutes(10);
    let in_future = now + chrono::Duration::hours(3);
    let attempt_ref = rows(&ctx.db, "SELECT attempt_ref FROM attempts").await[0].try_get_by_index::<String>(0).unwrap();
    let event = CallEvent {
        // By reference: a time this far off also fails the (vendor, phone)
        // fence, which is right for a result that names nothing of ours.
        attempt_ref: Some(attempt_ref),
        phone: Some("+442079000000".into()),
        started_at: Some(in_range),
        external_call_id: Some("c-3".into()),
        first_dial: Some(VendorRedial {
            external_call_id: Some("c-1".into()),
            at: Some(eleven_days_early),
            outcome: Outcome::new(Disposition::NoAnswer),
        }),
        redials: vec![
            VendorRedial {
                external_call_id: Some("c-2".into()),
                at: Some(in_range),
                outcome: Outcome::new(Disposition::Busy),
            },
            VendorRedial {
                external_call_id: Some("c-3".into()),
                at: Some(in_future),
                outcome: Outcome::new(Disposition::Answered).with_intent(Intent::PromiseToPay),
            },
        ],
        ..CallEvent::final_outcome(Outcome::new(Disposition::Answered).with_intent(Intent::PromiseToPay))
    };
    let txn = begin_write(&ctx.db, Writer::Other).await.unwrap();
    let mut buffer = WriteBuffer::default();
    let applied =
        apply_event(&txn, &ctx.settings.compliance, "va", &event, &mut HashMap::new(), now, &mut buffer).await.unwrap();
    assert_eq!(applied, EventApplied::Applied);
    buffer.flush(&txn).await.unwrap();
    txn.commit().await.unwrap();
    let dials = rows(
        &ctx.db,
        "SELECT seq, disposition, dialed_at, vendor_dialed_at, vendor_redial, external_call_id FROM dials ORDER BY seq",
    )
    .await;
    type Row = (i32, String, DateTime<Utc>, Option<DateTime<Utc>>, bool, Option<String>);
    let got: Vec<Row> = dials
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
                r.try_get_by_index(3).unwrap(),
                r.try_get_by_index(4).unwrap(),
                r.try_get_by_index(5).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, "no_answer".into(), claimed_at, Some(eleven_days_early), false, Some("c-1".into())),
            (1, "busy".into(), in_range, Some(in_range), true, Some("c-2".into())),
            (2, "answered".into(), now, Some(in_future), true, Some("c-3".into())),
        ]
    );
    shutdown.cancel();
}

/// A signed-for-nothing sim result (the inbox stores verified bodies; the
/// processor only parses them): `reference` and `call_id` name the attempt.
pub(crate) fn sim_result(reference: &str, call_id: &str, batch_id: &str, at: DateTime<Utc>) -> NewCallback {
    let body = serde_json::json!({
        "event_id": format!("e-{reference}-{call_id}"), "call_id": call_id, "reference": reference,
        "batch_id": batch_id, "status": "ANSWERED", "intent": "PTP", "started_at": null,
        "ended_at": at, "duration_ms": 1000
    });
    NewCallback {
        vendor_id: "va".into(),
        remote_addr: None,
        headers: serde_json::json!({}),
        body: body.to_string().into_bytes(),
        state: campaignd::domain::state::InboxState::Pending,
        error: None,
        received_at: at,
    }
}

/// Waiting rows (callbacks for calls we cannot match yet) cost nothing
/// while they wait: a drain pass looks at the rows that arrived or came due,
/// not at every waiting row; a row is woken at once when the call id it
/// waits for is recorded; copies of a waiting row are duplicates; and each
/// unmatched event is counted once, when its row expires, however many
/// passes ran meanwhile (issue 12: the counter read 93-96 for 9 records).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_callbacks_are_looked_at_on_a_backoff_or_when_woken_and_counted_once() {
    use campaignd::ingest::processor::drain;
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 2, 1000).await;
    let t1 = clock.now();
    let claimed = claim_concurrently(&ctx, "a", t1).await;
    assert_eq!(claimed.len(), 2);
    let refs: Vec<String> = rows(&ctx.db, "SELECT attempt_ref FROM attempts ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();

    // More unknown-call rows than one page holds, two copies of one of them,
    // and a callback that came before its dispatch answer (call id c-early).
    const FLOOD: usize = 450;
    let mut flood: Vec<NewCallback> =
        (0..FLOOD).map(|i| sim_result("nobody-1", &format!("u-{i}"), "not-ours", t1)).collect();
    flood.push(sim_result("nobody-1", "u-0", "not-ours", t1));
    flood.push(sim_result("nobody-1", "u-0", "not-ours", t1));
    flood.push(sim_result("elsewhere-1", "c-early", "task-early", t1));
    inbox::insert_many(&ctx.db, flood).await.unwrap();
    let first = drain(&ctx).await.unwrap();
    assert_eq!((first.rows, first.waiting, first.duplicates), (FLOOD + 3, FLOOD + 1, 2), "{first:?}");
    assert_eq!(first.unmatched, 0, "young rows wait, they are not given up: {first:?}");

    // A normal callback arrives: the next pass looks at it alone, not at the
    // 451 waiting rows, and applies it.
    inbox::insert_many(&ctx.db, vec![sim_result(&refs[0], "c-0", "b-0", t1)]).await.unwrap();
    let second = drain(&ctx).await.unwrap();
    assert_eq!((second.rows, second.applied, second.waiting), (1, 1, 0), "{second:?}");

    // The dispatch answer records call id c-early on attempt 2: its callback
    // is due at once (no clock moved), and only it.
    let txn = begin_write(&ctx.db, Writer::Other).await.unwrap();
    txn.execute_unprepared(&format!(
        "UPDATE attempts SET external_call_id = 'c-early' WHERE attempt_ref = '{}'",
        refs[1]
    ))
    .await
    .unwrap();
    let woken = inbox::wake_for_dispatch(&txn, "va", "task-early", ["c-early"].into_iter(), t1).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(woken, 1, "only the row waiting for c-early is woken");
    let third = drain(&ctx).await.unwrap();
    assert_eq!((third.rows, third.applied), (1, 1), "{third:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await, 2);

    // Time passes in 1 s steps past dispatch_timeout (30 s): the flood is
    // looked at on its backoff (ages 1, 2, 4, 8, 16 s, then expiry at 30 s),
    // not on each of the 35 passes, and every event is given up exactly once.
    let (mut looked, mut unmatched, mut passes) = (0, 0, 0);
    for s in 1..=35 {
        clock.set(t1 + chrono::Duration::seconds(s));
        let r = drain(&ctx).await.unwrap();
        looked += r.rows;
        unmatched += r.unmatched;
        passes += 1;
        assert_eq!(r.applied + r.duplicates + r.failed, 0, "{r:?}");
    }
    assert_eq!(unmatched, FLOOD, "each unmatched event counted once over {passes} passes");
    assert_eq!(looked, FLOOD * 6, "looks at ages 1, 2, 4, 8, 16 and 30 s: {looked}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM inbox_waits").await, 0, "a finished row forgets its waits");
    shutdown.cancel();
}

/// One inbox page is applied as a whole (facts loaded once, writes made
/// once), yet reads as if its rows were applied one after another: an
/// identical copy of a result in the same page is a duplicate, a second,
/// different result for an attempt the page already finished is late (its
/// call id and dial are not recorded), and each contact moves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_a_copy_and_a_second_result_for_one_attempt_applies_each_result_once() {
    use campaignd::ingest::processor::drain;
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 2, 1000).await;
    let t1 = clock.now();
    assert_eq!(claim_concurrently(&ctx, "a", t1).await.len(), 2);
    let refs: Vec<String> = rows(&ctx.db, "SELECT attempt_ref FROM attempts ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    let page = vec![
        sim_result(&refs[0], "c-0", "b-0", t1),
        sim_result(&refs[0], "c-0", "b-0", t1),
        sim_result(&refs[0], "c-0-again", "b-0", t1),
        sim_result(&refs[1], "c-1", "b-0", t1),
    ];
    inbox::insert_many(&ctx.db, page).await.unwrap();
    let r = drain(&ctx).await.unwrap();
    assert_eq!((r.rows, r.applied, r.duplicates, r.late, r.failed), (4, 2, 1, 1, 0), "{r:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await, 2);
    let first: Vec<String> =
        rows(&ctx.db, &format!("SELECT external_call_id FROM attempts WHERE attempt_ref = '{}'", refs[0]))
            .await
            .iter()
            .map(|r| r.try_get_by_index(0).unwrap())
            .collect();
    assert_eq!(first, ["c-0"], "the late result changed nothing");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM dials").await, 2, "one dial per applied result");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM contacts WHERE state = 'in_flight'").await, 0);
    let marks: Vec<String> = rows(&ctx.db, "SELECT state FROM callback_inbox ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    assert_eq!(marks, ["processed", "duplicate", "processed", "processed"]);
    shutdown.cancel();
}

/// A page's check for copies outside it probes the inbox once per page row
/// (a subquery per row on the vendor and dedupe key), whatever the inbox
/// holds. Written as `WHERE EXISTS`, PostgreSQL planned it as a hash
/// semi-join that read every inbox row, processed ones too, on every page:
/// ~110 ms a page at 50,000 rows, most of a page's time (docs/benchmarks.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pages_copy_check_probes_the_inbox_per_row_not_the_whole_inbox() {
    use campaignd::store::inbox_page::copies_statement;
    let db = TestDb::new();
    let (ctx, _clock, shutdown) = build(&db, 1, 1000).await;
    let backend = ctx.db.get_database_backend();
    let keys: Vec<(i64, String, String)> = (0..300).map(|i| (i, "va".to_string(), format!("key-{i}"))).collect();
    let keys: Vec<(i64, &str, &str)> = keys.iter().map(|(id, v, k)| (*id, v.as_str(), k.as_str())).collect();
    let mut statement = copies_statement(backend, &keys);
    let (explain, column) = match backend {
        DbBackend::Postgres => ("EXPLAIN ", "QUERY PLAN"),
        _ => ("EXPLAIN QUERY PLAN ", "detail"),
    };
    statement.sql = format!("{explain}{}", statement.sql);
    let plan: Vec<String> = ctx
        .db
        .query_all_raw(statement)
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", column).unwrap())
        .collect();
    let plan = plan.join("\n");
    match backend {
        DbBackend::Postgres => {
            assert!(plan.contains("SubPlan"), "the inbox is probed in a subplan per page row:\n{plan}");
            assert!(!plan.contains("Join"), "no join of the page with the whole inbox:\n{plan}");
        }
        _ => {
            assert!(plan.contains("CORRELATED SCALAR SUBQUERY"), "a probe per page row:\n{plan}");
            assert!(plan.contains("USING INDEX ix_inbox_vendor_dedupe"), "on the dedupe index:\n{plan}");
            assert!(plan.contains("LIST SUBQUERY"), "the page's own ids looked up once, not scanned per row:\n{plan}");
        }
    }
    shutdown.cancel();
}

/// The admin API's removal of a never-dialed contact races four claims of
/// its campaign: each contact ends either claimed (and kept, with its
/// attempt) or removed (never claimed), never both and never neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removal_racing_claims_never_removes_a_claimed_contact() {
    use campaignd::store::contact_removal::{Removal, remove_undialed};
    let db = TestDb::new();
    let (ctx, clock, shutdown) = build(&db, 200, 1000).await;
    let row = campaignd::store::campaigns::find_by_name(&ctx.db, "a").await.unwrap();
    // Last numbers first: the claims take the first ones, so the two meet.
    let phones: Vec<String> = (0..200).rev().map(|i| format!("+44207900{i:04}")).collect();
    let removals = futures::future::join_all(phones.iter().map(|p| remove_undialed(&ctx.db, row.id, p)));
    let (claimed, removals) = tokio::join!(claim_concurrently(&ctx, "a", clock.now()), removals);
    let claimed: BTreeSet<i64> = claimed.into_iter().map(|(_, id)| id).collect();
    let mut removed = BTreeSet::new();
    for r in removals {
        match r.unwrap() {
            Removal::Removed { id } => assert!(removed.insert(id)),
            Removal::Kept(_) => {}
            Removal::NoContact => panic!("every number is a contact of `a`"),
        }
    }
    assert!(claimed.is_disjoint(&removed), "a contact was claimed and removed");
    assert_eq!(claimed.len() + removed.len(), 200, "claimed {} removed {}", claimed.len(), removed.len());
    let left = scalar(&ctx.db, &format!("SELECT COUNT(*) FROM contacts WHERE campaign_id = {}", row.id)).await;
    assert_eq!(left as usize, claimed.len(), "exactly the claimed contacts remain");
    let attempts = scalar(&ctx.db, &format!("SELECT COUNT(*) FROM attempts WHERE campaign_id = {}", row.id)).await;
    assert_eq!(attempts as usize, claimed.len(), "each with its attempt");
    shutdown.cancel();
}

/// The in-flight counts a claim's capacity and the gauges come from: the
/// campaign's own attempts wherever they went, and each routed vendor's in
/// every campaign, finished attempts left out. Campaign "a" routes to a
/// vendor it shares with "b" and to one of its own, so the campaign's
/// count and the vendors' differ (on PostgreSQL they come from one pass
/// over both sets, on SQLite from two counts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_counts_the_campaign_and_each_vendor_across_campaigns() {
    let db = TestDb::new();
    let tables = [
        vendor_toml("shared", 1000),
        vendor_toml("own", 1000),
        campaign_toml("a", r#"["shared", "own"]"#),
        campaign_toml("b", r#"["shared"]"#),
    ];
    let (ctx, clock, shutdown) = serve(&db, &tables.concat()).await;
    import_numbers(&ctx, &clock, "a", 0..40).await;
    import_numbers(&ctx, &clock, "b", 100..140).await;
    let now = clock.now();
    let slots = ctx.vendors.caps(now);
    let lease = Lease { owner: "test", until: now + chrono::Duration::seconds(30) };
    let mut camps = HashMap::new();
    for (name, take) in [("a", 30), ("b", 25)] {
        let row = campaignd::store::campaigns::find_by_name(&ctx.db, name).await.unwrap();
        let camp = ctx.campaign(row.id).await.unwrap();
        let report = claim(&ctx.db, &camp, &slots, take, &lease, now).await.unwrap();
        assert_eq!(report.claimed.len(), take as usize, "campaign {name}");
        camps.insert(name, camp);
    }
    // Some of each campaign's attempts finish: they no longer count.
    ctx.db
        .execute_unprepared(
            "UPDATE attempts SET state = 'completed' WHERE id IN \
             (SELECT id FROM attempts WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'a') ORDER BY id LIMIT 4) \
             OR id IN (SELECT id FROM attempts WHERE campaign_id = (SELECT id FROM campaigns WHERE name = 'b') ORDER BY id LIMIT 3)",
        )
        .await
        .unwrap();
    let count = |sql: String| {
        let db = &ctx.db;
        async move { u64::try_from(scalar(db, &sql).await).unwrap() }
    };
    let flying = "state IN ('dispatching', 'dispatched')";
    let a_id = camps["a"].id;
    let a_own = count(format!("SELECT COUNT(*) FROM attempts WHERE {flying} AND vendor_id = 'own'")).await;
    let a_shared = count(format!(
        "SELECT COUNT(*) FROM attempts WHERE {flying} AND vendor_id = 'shared' AND campaign_id = {a_id}"
    ))
    .await;
    let shared = count(format!("SELECT COUNT(*) FROM attempts WHERE {flying} AND vendor_id = 'shared'")).await;
    assert_eq!(a_own + a_shared, 26, "30 claimed by a, 4 finished");
    assert_eq!(shared - a_shared, 22, "25 claimed by b, 3 finished");
    assert!(a_own > 0 && a_shared > 0, "a routed to both vendors: own {a_own}, shared {a_shared}");

    let a = campaignd::store::claim::in_flight_now(&ctx.db, &camps["a"], &slots).await.unwrap();
    assert_eq!(a.campaign, 26);
    assert_eq!(a.vendors, HashMap::from([("shared".to_string(), shared), ("own".to_string(), a_own)]));
    let b = campaignd::store::claim::in_flight_now(&ctx.db, &camps["b"], &slots).await.unwrap();
    assert_eq!(b.campaign, 22);
    assert_eq!(b.vendors, HashMap::from([("shared".to_string(), shared)]));
    // A campaign whose routed vendors are all unusable counts its own alone.
    let none = campaignd::store::claim::in_flight_now(&ctx.db, &camps["a"], &HashMap::new()).await.unwrap();
    assert_eq!((none.campaign, none.vendors.len()), (26, 0));
    shutdown.cancel();
}

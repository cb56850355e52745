//! Several `campaignd run` processes on one PostgreSQL database (issue 5).
//!
//! Three instances run two campaigns that share numbers, behind a
//! round-robin callback balancer, with one simulator: caps hold for the three
//! together, no contact and no number is ever on two calls at once, and when
//! the leader is killed with `kill -9` while it holds dispatch leases, another
//! instance takes the lead and rescues its work. A second, small run shows a
//! vendor's rate limit holding for three instances together.

use crate::common;

use common::balancer::Balancer;
use common::cluster::{
    counts, leader, leased_to, report_logs, sql_list, strings, unknown_to_sim, waiting_for_token, within,
};
use common::daemon::{Daemon, cli};
use common::invariants::{assert_campaign_peaks, assert_final, assert_peaks, spawn_sampler};
use common::{API_KEY, ConfigSpec, SECRET, TestDb, fast_sim, poll_until, rows, scalar, start_sim, write_contacts};
use doubles::sim::SimSettings;
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

const INSTANCES: [&str; 3] = ["multi-1", "multi-2", "multi-3"];
const CONTACTS: usize = 10_000;
/// The second campaign calls this many of the first campaign's numbers.
const SHARED_NUMBERS: usize = 1_000;
const CAPS: [(&str, i64); 2] = [("e2e", 120), ("overlap", 30)];
const VENDOR_CAPS: [(&str, i64); 2] = [("sim-a", 80), ("sim-b", 50)];
/// Leases short enough that a takeover happens within seconds. The result
/// timeout is not short: a lookup that finds a call finished before its
/// callback was applied completes the attempt without the callback (which is
/// correct), and the test counts that every completed attempt was applied by
/// exactly one callback; on a loaded machine (three daemons, PostgreSQL and
/// the simulator on two cores) callbacks have lagged past 10 s.
const LEASES: &str = r#"dispatch_timeout = "3s"
result_timeout = "60s"
lost_after = "120s"
reconcile_every = "1s"
leader_lease = "3s""#;
const LEADER_LEASE: Duration = Duration::from_secs(3);
const RECONCILE_EVERY: Duration = Duration::from_secs(1);

/// Each instance's config: the same but for its name, which also names its
/// database connections (`application_name`, seen in pg_stat_activity).
fn write_configs(db: &TestDb, text: impl Fn(&str, &str) -> String) -> Vec<PathBuf> {
    INSTANCES
        .iter()
        .map(|id| {
            let path = db.path(&format!("{id}.toml"));
            let db_url = format!("{}?application_name={id}", db.url);
            std::fs::write(&path, text(&db_url, id)).expect("write config");
            path
        })
        .collect()
}

/// Two campaigns sharing `SHARED_NUMBERS` numbers; sim-b rate-limited.
fn campaigns_config(db_url: &str, sim_url: &str, public_url: &str, instance: &str) -> String {
    let scheduler = format!("instance_id = \"{instance}\"\n{LEASES}");
    let spec = ConfigSpec {
        campaign_cap: CAPS[0].1 as u32,
        vendor_caps: (VENDOR_CAPS[0].1 as u32, VENDOR_CAPS[1].1 as u32),
        extra_scheduler: &scheduler,
        rate_limit: "10/s",
        ..ConfigSpec::new(db_url, sim_url)
    };
    let text = spec
        .render()
        .replace("max_body_bytes = 4096", &format!("max_body_bytes = 4096\npublic_url = \"{public_url}\""));
    assert!(text.contains("public_url"), "callbacks must go through the balancer");
    format!(
        r#"{text}
[[campaigns]]
name = "overlap"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = {overlap_cap}
vendors = ["sim-a", "sim-b"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "1s"
default = {{ action = "stop" }}

[[campaigns.recall.rules]]
when = ["no_answer", "busy", "power_off"]
retry_after = "1s"
max = 2

[compliance]
busy_backoff = "1s"
"#,
        overlap_cap = CAPS[1].1,
    )
}

fn import(config: &Path, campaign: &str, csv: &Path, n: usize) {
    write_contacts(csv, n);
    let out = cli(config, &["import", "--campaign", campaign, csv.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains(&format!("{n} imported")), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_caps_and_survive_the_leader_being_killed() {
    let db = TestDb::postgres_always();
    let sim = start_sim(SimSettings {
        latency_min: Duration::from_millis(20),
        latency_max: Duration::from_millis(150),
        ..fast_sim(0.2)
    })
    .await;
    let balancer = Balancer::start().await;
    let configs = write_configs(&db, |db_url, id| campaigns_config(db_url, &sim.base_url(), &balancer.url, id));
    import(&configs[0], "e2e", &db.path("e2e.csv"), CONTACTS);
    import(&configs[0], "overlap", &db.path("overlap.csv"), SHARED_NUMBERS);

    let conn = db.connect().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (peaks, sampler) = spawn_sampler(db.connect().await, stop.clone());
    let started = Instant::now();
    let logs: Vec<PathBuf> = INSTANCES.iter().map(|id| db.path(&format!("{id}.log"))).collect();
    let mut daemons: Vec<Daemon> = Vec::new();
    for (config, log) in configs.iter().zip(&logs) {
        let d = Daemon::start_logging_to(config, log);
        balancer.add(&d.addr);
        daemons.push(d);
    }

    poll_until(Duration::from_secs(120), "a third of the contacts dialed", || async {
        (scalar(&conn, "SELECT COUNT(DISTINCT contact_id) FROM attempts").await >= (CONTACTS / 3) as i64).then_some(())
    })
    .await;

    // Kill the leader while a dispatch of its own waits to be sent: hold
    // sim-b's rate-limit row (requests to sim-b, and claims, queue behind
    // it), and kill once one of the leader's connections is seen queued there
    // with attempts leased to it that the vendor has not received.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (victim, leased) = loop {
        assert!(Instant::now() < deadline, "the leader never queued a dispatch behind the held rate-limit row");
        if let Some(owner) = leader(&conn).await
            && !leased_to(&conn, &owner, "sim-b").await.is_empty()
        {
            let hold = conn.begin().await.expect("begin");
            hold.execute_unprepared("SELECT tokens FROM vendor_limits WHERE vendor_id = 'sim-b' FOR UPDATE")
                .await
                .expect("lock sim-b's bucket");
            let queued = within(Duration::from_secs(2), || waiting_for_token(&conn, &owner)).await;
            let leased = leased_to(&conn, &owner, "sim-b").await;
            if queued && !unknown_to_sim(&sim.base_url(), &leased).await.is_empty() {
                let i = INSTANCES.iter().position(|id| *id == owner).expect("the leader is one of ours");
                daemons[i].kill9();
                hold.rollback().await.expect("release sim-b's bucket");
                break (owner, leased);
            }
            hold.rollback().await.expect("release sim-b's bucket");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let killed_at = Instant::now();
    let done_at_kill = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    eprintln!(
        "killed leader {victim} after {:?} holding {} sim-b dispatch leases ({done_at_kill} attempts completed)",
        started.elapsed(),
        leased.len()
    );

    // Another instance takes the lead once the dead one's lease runs out.
    let new_leader = poll_until(LEADER_LEASE + RECONCILE_EVERY * 5, "another instance takes the leader lease", || {
        let (conn, victim) = (&conn, &victim);
        async move { leader(conn).await.filter(|o| o != victim) }
    })
    .await;
    eprintln!("{new_leader} leads {:?} after the kill", killed_at.elapsed());
    assert!(INSTANCES.contains(&new_leader.as_str()));

    // The dead instance's dispatches are rescued: none stays `dispatching`.
    let refs = sql_list(&leased);
    poll_until(Duration::from_secs(30), "the dead instance's dispatches rescued", || async {
        let left = format!("SELECT COUNT(*) FROM attempts WHERE attempt_ref IN ({refs}) AND state = 'dispatching'");
        (scalar(&conn, &left).await == 0).then_some(())
    })
    .await;
    let fate = strings(
        &conn,
        &format!(
            "SELECT attempt_ref || ': ' || state || ' by ' || lease_owner FROM attempts \
             WHERE attempt_ref IN ({refs}) ORDER BY 1"
        ),
    )
    .await;
    eprintln!("the dead instance's leased attempts {:?} after the kill: {fate:?}", killed_at.elapsed());
    // What the vendor never received was looked up and failed (which does
    // not count against the contact), mostly by the instance that took the
    // lease over (the dead one may have rescued some of its own just before
    // it died); what the vendor did receive goes on to its result.
    let never_sent = unknown_to_sim(&sim.base_url(), &leased).await;
    assert!(!never_sent.is_empty(), "the kill must leave a dispatch the vendor never received");
    for line in &fate {
        let (attempt_ref, how) = line.split_once(": ").expect("ref: fate");
        let expected: &[&str] = match never_sent.iter().any(|r| r == attempt_ref) {
            true => &["failed by "],
            false => &["completed by ", "dispatched by "],
        };
        assert!(expected.iter().any(|e| how.starts_with(e)), "{line}: expected {expected:?}");
    }
    let taken_over = fate.iter().filter(|l| l.contains(": failed by ") && !l.ends_with(&format!(" {victim}"))).count();
    assert!(taken_over > 0, "no dispatch of the dead instance was taken over by a live one: {fate:?}");

    poll_until(Duration::from_secs(300), "both campaigns completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 2).then_some(())
    })
    .await;
    let duration = started.elapsed();
    stop.store(true, Relaxed);
    sampler.await.unwrap();

    // Caps held for the three processes together; nobody was called twice at once.
    assert_peaks(&peaks, CAPS[0].1 + CAPS[1].1, &VENDOR_CAPS);
    assert_campaign_peaks(&peaks, &CAPS);
    assert_final(&conn, (CONTACTS + SHARED_NUMBERS) as i64, 3, Duration::from_secs(1)).await;
    let stuck = format!("SELECT COUNT(*) FROM attempts WHERE state = 'dispatching' AND lease_owner = '{victim}'");
    assert_eq!(scalar(&conn, &stuck).await, 0, "the dead instance's dispatches were all rescued");

    // Every dial reported exactly once, whichever instance received it.
    poll_until(Duration::from_secs(30), "simulator finished delivering", || async {
        (sim.stats.callbacks_pending.load(Relaxed) == 0).then_some(())
    })
    .await;
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    let attempts = scalar(&conn, "SELECT COUNT(*) FROM attempts").await;
    assert_eq!(sim.stats.double_dials.load(Relaxed), 0, "a reference was dialed twice");
    assert_eq!(sim.stats.calls_dialed.load(Relaxed) as i64, completed, "every dial has exactly one result");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await, 0);
    let applied = scalar(&conn, "SELECT COALESCE(SUM(events), 0) FROM callback_inbox WHERE state = 'processed'").await;
    assert_eq!(applied, completed, "each completed attempt applied by exactly one callback");

    // All three did the work: each claimed attempts and answered callbacks.
    let by_instance = counts(&conn, "SELECT lease_owner, COUNT(*) FROM attempts GROUP BY lease_owner ORDER BY 1").await;
    let answered = balancer.answered();
    for (id, d) in INSTANCES.iter().zip(&daemons) {
        assert!(by_instance.iter().any(|(o, n)| o == id && *n > 0), "{id} claimed nothing: {by_instance:?}");
        assert!(answered.get(&d.addr).is_some_and(|n| *n > 0), "{id} received no callback: {answered:?}");
    }
    eprintln!(
        "{} contacts, {attempts} attempts ({completed} completed) in {duration:?}; attempts by lease owner \
         {by_instance:?}; callbacks per instance {answered:?}",
        CONTACTS + SHARED_NUMBERS,
    );
    eprintln!(
        "peak in flight: all {} per campaign {:?} per vendor {:?} ({} samples)",
        peaks.campaign.load(Relaxed),
        peaks.per_campaign.lock().unwrap(),
        peaks.per_vendor.lock().unwrap(),
        peaks.samples.load(Relaxed)
    );

    // The survivors stop cleanly, and the leader hands its lease back.
    for (id, d) in INSTANCES.iter().zip(daemons.iter_mut()) {
        if *id != victim {
            let status = d.terminate();
            assert!(status.success(), "{id}: SIGTERM must exit 0, got {status}");
        }
    }
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM leases").await, 0, "a clean shutdown releases the leader lease");
    report_logs(&logs);
}

/// Requests per second the rate-limited vendor allows (its burst too).
const RATE: f64 = 4.0;

/// One rate-limited vendor, contacts claimed a few at a time, so that every
/// instance keeps asking for the vendor's tokens.
fn rate_config(db_url: &str, sim_url: &str, instance: &str) -> String {
    format!(
        r#"
[database]
url = "{db_url}"

[http]
listen = "127.0.0.1:0"

[scheduler]
tick = "100ms"
claim_batch = 4
instance_id = "{instance}"
dispatch_timeout = "20s"
reconcile_every = "1s"
leader_lease = "3s"

[[vendors]]
id = "limited"
kind = "sim"
base_url = "{sim_url}"
api_key = "{API_KEY}"
callback_secret = "{SECRET}"
max_concurrency = 200
rate_limit = "{RATE}/s"

[[campaigns]]
name = "rl"
timezone = "Asia/Jakarta"
windows = "daily 00:00-24:00"
max_concurrency = 200
vendors = ["limited"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 1
vendor_failure_backoff = "1s"
default = {{ action = "stop" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_vendor_rate_limit() {
    let db = TestDb::postgres_always();
    let sim = start_sim(fast_sim(0.0)).await;
    let configs = write_configs(&db, |db_url, id| rate_config(db_url, &sim.base_url(), id));
    import(&configs[0], "rl", &db.path("rl.csv"), 160);
    let conn = db.connect().await;
    let _daemons: Vec<Daemon> = configs.iter().map(|c| Daemon::start(c)).collect();
    poll_until(Duration::from_secs(120), "campaign completed", || async {
        (scalar(&conn, "SELECT COUNT(*) FROM campaigns WHERE state = 'completed'").await == 1).then_some(())
    })
    .await;

    // Every request to the vendor is a vendor task row, stamped when it was
    // answered (hence one second of slack for the first request's latency).
    let r =
        rows(&conn, "SELECT COUNT(*), EXTRACT(EPOCH FROM MAX(created_at) - MIN(created_at))::float8 FROM vendor_tasks")
            .await;
    let (requests, span) =
        (r[0].try_get_by_index::<i64>(0).expect("count"), r[0].try_get_by_index::<f64>(1).expect("span"));
    let per_instance = counts(
        &conn,
        "SELECT a.lease_owner, COUNT(DISTINCT a.vendor_task_id) FROM attempts a GROUP BY a.lease_owner ORDER BY 1",
    )
    .await;
    eprintln!(
        "{requests} requests in {span:.1} s ({:.2}/s, limit {RATE}/s); requests by instance {per_instance:?}",
        requests as f64 / span.max(1.0)
    );
    assert_eq!(requests, sim.stats.batches_accepted.load(Relaxed) as i64, "one vendor task per request");
    assert!(per_instance.len() == INSTANCES.len(), "every instance must have sent requests: {per_instance:?}");
    let allowed = RATE.ceil() + RATE * (span + 1.0);
    assert!(requests as f64 <= allowed, "{requests} requests in {span:.1} s: more than the {allowed} allowed");
    // The check means something only if the instances wanted more than the limit.
    assert!(requests as f64 >= RATE * span * 0.6, "the limit was not binding: {requests} requests in {span:.1} s");
}

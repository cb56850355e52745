//! `/metrics` for the on-call: a campaign runs against the simulator beside
//! a campaign whose window is closed, and what the daemon exports is checked
//! against the database and the admin API: calls in flight against the
//! caps, the windows, the callback lag of every result, the inbox backlog,
//! refused callbacks by reason, and every dispatch's latency and error.

use crate::common;

use chrono::Timelike;
use common::daemon::Daemon;
use common::{ConfigSpec, TestDb, fast_sim, poll_until, scalar, start_sim};
use doubles::sim::SimSettings;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const TOKEN: &str = "s3cret";
const CAMPAIGN_CAP: u32 = 6;
const VENDOR_CAPS: (u32, u32) = (4, 3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_agree_with_the_database_and_the_api() {
    let db = TestDb::new();
    // Some batches refused with 503: the errors are counted by that code.
    let sim = start_sim(SimSettings { dispatch_failure_rate: 0.2, ..fast_sim(0.0) }).await;
    let sim_url = sim.base_url();
    let spec = ConfigSpec {
        contacts: 60,
        campaign_cap: CAMPAIGN_CAP,
        vendor_caps: VENDOR_CAPS,
        ..ConfigSpec::new(&db.url, &sim_url)
    };
    let config = spec.write(&db, &format!("admin_token = \"{TOKEN}\""));
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&closed_campaign(chrono::Utc::now().hour()));
    std::fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    let conn = db.connect().await;
    let http = reqwest::Client::new();
    let scrape = || async { http.get(daemon.url("/metrics")).send().await.unwrap().text().await.unwrap() };

    // While it runs: every scrape's in-flight gauges stay within the caps
    // the admin API reports, and calls are seen in flight at some point.
    let vendors: Value =
        http.get(daemon.url("/api/v1/vendors")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    let caps: BTreeMap<String, f64> = vendors["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v["max_concurrency"].as_f64().unwrap()))
        .collect();
    assert_eq!(caps.len(), 2, "{vendors}");
    let seen_in_flight = std::cell::Cell::new(0.0_f64);
    poll_until(Duration::from_secs(120), "campaign completed", || {
        let (conn, scrape, caps) = (&conn, &scrape, &caps);
        let seen = &seen_in_flight;
        async move {
            let m = Metrics::parse(&scrape().await);
            if let Some(n) = m.value("campaignd_in_flight", &[("campaign", "e2e")]) {
                assert!(n <= f64::from(CAMPAIGN_CAP), "campaign in flight {n}");
                assert_eq!(m.value("campaignd_in_flight_cap", &[("campaign", "e2e")]), Some(f64::from(CAMPAIGN_CAP)));
                seen.set(seen.get().max(n));
            }
            for (id, cap) in caps {
                if let Some(n) = m.value("campaignd_vendor_in_flight", &[("vendor", id)]) {
                    assert!(n <= *cap, "{id} in flight {n} > {cap}");
                    assert_eq!(m.value("campaignd_vendor_in_flight_cap", &[("vendor", id)]), Some(*cap), "{id}");
                }
            }
            (scalar(conn, "SELECT COUNT(*) FROM campaigns WHERE name = 'e2e' AND state = 'completed'").await == 1)
                .then_some(())
        }
    })
    .await;
    assert!(seen_in_flight.get() > 0.0, "the in-flight gauge never saw a call");

    // Drained: no pending callback, every result's lag recorded once, and
    // nothing in flight, as the admin API says too.
    let m = poll_until(Duration::from_secs(30), "inbox drained and every result counted", || async {
        let m = Metrics::parse(&scrape().await);
        let pending = scalar(&conn, "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'").await;
        let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
        let settled = pending == 0
            && m.value("campaignd_inbox_depth", &[]) == Some(0.0)
            && m.sum("campaignd_callback_lag_seconds_count", &[]) == completed as f64;
        settled.then_some(m)
    })
    .await;
    assert_eq!(m.value("campaignd_inbox_oldest_pending_seconds", &[]), Some(0.0));
    // SQLite's one writer: every inbox batch held it once, and each of the
    // loops this run went through (claiming, recording the vendor's answer,
    // applying results) held it under its own name.
    if db.url.starts_with("sqlite") {
        let turns = |writer| m.sum("campaignd_sqlite_write_turn_seconds_count", &[("writer", writer)]);
        assert!(turns("inbox") > 0.0);
        assert_eq!(turns("inbox"), m.sum("campaignd_inbox_batch_rows_count", &[]));
        for writer in ["claim", "dispatch", "processing"] {
            assert!(turns(writer) > 0.0, "no write turn by {writer}");
            assert!(m.sum("campaignd_sqlite_write_turn_seconds_sum", &[("writer", writer)]) > 0.0, "{writer}");
        }
        assert_eq!(m.kind("campaignd_sqlite_write_turn_seconds"), Some("histogram"));
    }
    let completed = scalar(&conn, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await;
    assert!(completed > 0);
    assert_eq!(m.sum("campaignd_results_total", &[]), completed as f64, "each applied result has a call end");
    assert_eq!(m.sum("campaignd_callback_clock_skew_total", &[]), 0.0, "one clock on loopback");
    assert_eq!(m.kind("campaignd_callback_lag_seconds"), Some("histogram"));
    let vendors: Value =
        http.get(daemon.url("/api/v1/vendors")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    for v in vendors["vendors"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        assert_eq!(v["in_flight"], 0, "{vendors}");
        assert_eq!(m.value("campaignd_vendor_in_flight", &[("vendor", id)]), Some(0.0), "{id}");
    }
    assert_eq!(m.value("campaignd_in_flight", &[("campaign", "e2e")]), Some(0.0));

    // Windows: open around the clock for one, closed now for the other.
    assert_eq!(m.value("campaignd_campaign_window_open", &[("campaign", "e2e")]), Some(1.0));
    assert_eq!(m.value("campaignd_campaign_window_open", &[("campaign", "closed")]), Some(0.0));

    // Every dispatch request timed: one per vendor task recorded.
    let tasks = scalar(&conn, "SELECT COUNT(*) FROM vendor_tasks").await;
    assert!(tasks > 0);
    assert_eq!(m.sum("campaignd_vendor_request_seconds_count", &[("op", "dispatch")]), tasks as f64);
    assert_eq!(m.kind("campaignd_vendor_request_seconds"), Some("histogram"));
    let refused = scalar(&conn, "SELECT COUNT(*) FROM vendor_tasks WHERE state = 'failed'").await;
    assert!(refused > 0, "the simulator refused some batches");
    let errors = [("op", "dispatch"), ("kind", "RetryLater"), ("code", "503")];
    assert_eq!(m.sum("campaignd_vendor_errors_total", &errors), refused as f64);
    assert_eq!(m.sum("campaignd_vendor_errors_total", &[]), refused as f64, "no other error");

    // Refused callbacks, by reason; a vendor id nobody configured is not a label.
    let r = http
        .post(daemon.url("/callbacks/sim-a"))
        .header("x-sim-signature", "not-the-signature")
        .header("content-type", "application/json")
        .body(r#"{"calls":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http.post(daemon.url("/callbacks/no-such-vendor-7")).body("{}").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let text = scrape().await;
    let m = Metrics::parse(&text);
    let rejected =
        |vendor, reason| m.value("campaignd_callbacks_rejected_total", &[("vendor", vendor), ("reason", reason)]);
    assert_eq!(rejected("sim-a", "bad_signature"), Some(1.0), "{text}");
    assert_eq!(rejected("unknown", "unknown_vendor"), Some(1.0), "{text}");
    assert!(!text.contains("no-such-vendor-7"), "{text}");
    drop(daemon);
}

/// A second campaign whose window (one hour, in UTC) is half a day away
/// from `hour_now`, so it stays closed for the whole test.
fn closed_campaign(hour_now: u32) -> String {
    let start = (hour_now + 12) % 24;
    format!(
        r#"
[[campaigns]]
name = "closed"
timezone = "UTC"
windows = "daily {start:02}:00-{end:02}:00"
max_concurrency = 2
vendors = ["sim-a"]
default_country_code = "62"

[campaigns.recall]
max_attempts = 1
default = {{ action = "stop" }}
"#,
        end = start + 1,
    )
}

/// The samples of a Prometheus text exposition.
struct Metrics {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: BTreeMap<String, String>,
}

impl Metrics {
    fn parse(text: &str) -> Metrics {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                types.insert(name.to_string(), kind.to_string());
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap();
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            samples.push((name.to_string(), labels, value.parse().unwrap()));
        }
        Metrics { samples, types }
    }

    fn matching<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = f64> + 'a {
        self.samples
            .iter()
            .filter(move |(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, _, v)| *v)
    }

    /// The one series of `name` with these labels (and maybe others).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let found: Vec<f64> = self.matching(name, labels).collect();
        assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
        found.first().copied()
    }

    /// The sum over every series of `name` with these labels.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).sum()
    }

    fn kind(&self, name: &str) -> Option<&str> {
        self.types.get(name).map(String::as_str)
    }
}

//! The adapter against the simulator (`doubles::sim`) on loopback: batches
//! end to end, fault knobs, held answers, retries, lookups and cancels.

use super::testkit::{API_KEY, Receiver, adapter, batch, fast, sim, wait_until};
use crate::domain::outcome::Disposition;
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter};
use doubles::sim::SimSettings;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_end_to_end() {
    let receiver = Receiver::start(&[]).await;
    let settings = SimSettings { duplicate_rate: 0.5, max_lines: 5, seed: Some(7), ..fast() };
    let weights = settings.outcomes.clone();
    let (sim, adapter) = sim(settings).await;
    let stats = sim.stats.clone();

    let calls = batch(&receiver.url, "r", 200);
    let receipt = adapter.dispatch(&calls).await.unwrap();
    assert_eq!(receipt.vendor_task_id, "b-1");
    assert_eq!(receipt.accepted.len(), 200);
    assert!(receipt.rejected.is_empty());
    let call_ids: HashSet<_> = receipt.accepted.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(call_ids.len(), 200);
    assert!(call_ids.iter().all(|id| id.as_deref().is_some_and(|id| id.starts_with("c-"))));

    wait_until("200 references called back and deliveries drained", Duration::from_secs(30), || {
        receiver.distinct_references() == 200 && stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    let deliveries = receiver.deliveries();
    assert_eq!(receiver.bad_signatures(), 0);
    assert_eq!(stats.callbacks_delivered.load(Relaxed), deliveries.len() as u64);
    assert_eq!(stats.callback_failures.load(Relaxed), 0);
    assert_eq!(stats.callbacks_abandoned.load(Relaxed), 0);

    // Duplicates repeat the very same result (same event_id), never more than once.
    let mut by_event: HashMap<&str, Vec<_>> = HashMap::new();
    for d in &deliveries {
        by_event.entry(d.result.event_id.as_str()).or_default().push(&d.result);
    }
    assert_eq!(by_event.len(), 200, "one event id per call");
    let duplicated = by_event.values().filter(|v| v.len() == 2).count();
    assert!(by_event.values().all(|v| v.len() <= 2 && v.iter().all(|r| *r == v[0])));
    assert_eq!(duplicated as u64, stats.duplicate_callbacks_sent.load(Relaxed));
    assert!((60..=140).contains(&duplicated), "{duplicated} duplicates at rate 0.5");

    // The statuses follow the weights (binomial, within 4 standard deviations).
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for results in by_event.values() {
        *counts.entry(results[0].status.as_str()).or_default() += 1;
        let answered = results[0].status == "ANSWERED";
        assert_eq!(results[0].intent.is_some(), answered, "{:?}", results[0]);
    }
    let total: f64 = weights.values().sum();
    for (code, weight) in &weights {
        let p = weight / total;
        let (expected, sd) = (200.0 * p, (200.0 * p * (1.0 - p)).sqrt());
        let got = counts.get(code.as_str()).copied().unwrap_or(0) as f64;
        assert!((got - expected).abs() <= 4.0 * sd + 1.0, "{code}: {got} vs {expected:.0}");
    }
    assert!(counts.keys().all(|c| weights.contains_key(*c)), "{counts:?}");

    // Lines were shared, never exceeded.
    let max = stats.max_dialing.load(Relaxed);
    assert!((2..=5).contains(&max), "max_dialing {max} with 5 lines");
    assert_eq!(stats.calls_dialed.load(Relaxed), 200);

    // Re-sending the batch returns the same calls and dials nobody again.
    let again = adapter.dispatch(&calls).await.unwrap();
    let first: HashMap<_, _> = receipt.accepted.iter().cloned().collect();
    assert!(again.accepted.iter().all(|(r, id)| first.get(r) == Some(id)));
    assert_eq!(again.accepted.len(), 200);
    // A fresh call queued after them: once it is back, anything re-queued would have been dialed.
    adapter.dispatch(&batch(&receiver.url, "probe", 1)).await.unwrap();
    wait_until("the probe call", Duration::from_secs(10), || receiver.distinct_references() == 201).await;
    assert_eq!(stats.calls_dialed.load(Relaxed), 201);
    assert_eq!(stats.calls_accepted.load(Relaxed), 201);
    assert_eq!(stats.double_dials.load(Relaxed), 0);

    // Results stay available by lookup after delivery.
    for d in deliveries.iter().take(50) {
        let LookupResult::Finished(event) = adapter.lookup(&AttemptHandle::by_ref(&d.result.reference)).await.unwrap()
        else {
            panic!("{} not finished", d.result.reference);
        };
        assert_eq!(event.attempt_ref.as_deref(), Some(d.result.reference.as_str()));
        assert_eq!(event.external_call_id.as_deref(), Some(d.result.call_id.as_str()));
        assert_eq!(event.outcome.raw_code, Some(format!("sim:{}", d.result.status)));
        assert!(event.is_final && event.outcome.disposition != Disposition::Unknown);
    }
    assert_eq!(adapter.lookup(&AttemptHandle::by_ref("never-sent")).await.unwrap(), LookupResult::NotFound);
    sim.shutdown().await;
}

/// The harness's fault knobs do what they say, and the recorder keeps
/// every answer with the body's digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_knobs_drop_repeat_and_invent_results_and_every_answer_is_recorded() {
    // The receiver refuses the first two deliveries: recorded as 503.
    let receiver = Receiver::start(&[503, 503]).await;
    let settings = SimSettings {
        duplicate_rate: 1.0,
        duplicate_max: 4,
        callback_drop_rate: 0.25,
        unknown_callback_rate: 0.5,
        callback_jitter: Duration::from_millis(30),
        ..fast()
    };
    let (sim, adapter) = sim(settings).await;
    let stats = sim.stats.clone();
    adapter.dispatch(&batch(&receiver.url, "k", 100)).await.unwrap();
    let finished = || {
        let delivered = receiver.deliveries().iter().filter(|d| d.result.reference.starts_with('k')).count();
        let refs: HashSet<String> = receiver.deliveries().into_iter().map(|d| d.result.reference).collect();
        let ours = refs.iter().filter(|r| r.starts_with('k')).count() as u64;
        delivered > 0 && ours + stats.callbacks_dropped.load(Relaxed) == 100
    };
    wait_until("every call finished and its deliveries done", Duration::from_secs(30), || {
        finished() && stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    let dropped = stats.callbacks_dropped.load(Relaxed);
    let strangers = stats.unknown_callbacks_sent.load(Relaxed);
    assert!((10..=45).contains(&dropped), "{dropped} of 100 dropped at rate 0.25");
    assert!((30..=70).contains(&strangers), "{strangers} of 100 unknown at rate 0.5");
    let ours = receiver.deliveries().into_iter().filter(|d| d.result.reference.starts_with('k'));
    let mut per_ref: HashMap<String, usize> = HashMap::new();
    for d in ours.filter(|d| d.answered == 200) {
        *per_ref.entry(d.result.reference).or_default() += 1;
    }
    assert_eq!(per_ref.len() as u64, 100 - dropped, "a dropped result is never delivered");
    assert!(per_ref.values().all(|n| (2..=5).contains(n)), "1 + 1..=4 duplicates: {per_ref:?}");
    assert!(per_ref.values().any(|n| *n >= 4), "duplicates reach duplicate_max");
    let records = sim.deliveries();
    assert_eq!(records.iter().filter(|r| r.status == 503).count(), 2, "refusals are recorded too");
    assert_eq!(records.len(), receiver.deliveries().len(), "one record per answer");
    assert!(records.iter().all(|r| r.sha256.len() == 64));
    assert_eq!(stats.number_overlaps.load(Relaxed), 0, "distinct numbers never overlap");
    sim.shutdown().await;
}

/// The overlap counter the crash loop relies on does count: two calls to
/// one number on two lines at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_on_two_lines_at_once_is_counted() {
    let receiver = Receiver::start(&[]).await;
    let settings =
        SimSettings { latency_min: Duration::from_millis(300), latency_max: Duration::from_millis(300), ..fast() };
    let (sim, adapter) = sim(settings).await;
    let mut calls = batch(&receiver.url, "o", 2);
    let phone = calls.items[0].phone.clone();
    calls.items[1].phone = phone;
    adapter.dispatch(&calls).await.unwrap();
    wait_until("both calls called back", Duration::from_secs(10), || receiver.distinct_references() == 2).await;
    wait_until("deliveries done", Duration::from_secs(10), || sim.stats.callbacks_pending.load(Relaxed) == 0).await;
    assert_eq!(sim.stats.number_overlaps.load(Relaxed), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn held_answers_come_late_while_the_calls_already_dial() {
    let (server, first) = sim(fast()).await;
    let stats = server.stats.clone();
    server.hold_answers(Duration::from_millis(400));
    let started = std::time::Instant::now();
    let held = tokio::spawn(async move { first.dispatch(&batch("http://127.0.0.1:1/cb", "held", 2)).await });
    wait_until("both calls dialed before the answer", Duration::from_secs(5), || {
        stats.calls_dialed.load(Relaxed) == 2 && stats.batches_held.load(Relaxed) == 1
    })
    .await;
    assert_eq!(held.await.unwrap().unwrap().accepted.len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(400), "answered after {:?}", started.elapsed());
    assert_eq!(stats.batches_held.load(Relaxed), 0);

    server.hold_answers(Duration::ZERO);
    let started = std::time::Instant::now();
    let second = adapter(&server.base_url(), Duration::from_secs(5));
    second.dispatch(&batch("http://127.0.0.1:1/cb", "quick", 1)).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(400), "still held: {:?}", started.elapsed());
}

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn callback_results_name_a_time_callback_after_the_call_ended() {
    let receiver = Receiver::start(&[]).await;
    let weights = |code: &str| [(code.to_string(), 1.0)].into_iter().collect();
    let settings = SimSettings {
        outcomes: weights("ANSWERED"),
        intents: [("CALLBACK".to_string(), 1.0), ("PTP".to_string(), 1.0)].into_iter().collect(),
        callback_after: Some(Duration::from_secs(90)),
        ..fast()
    };
    let (sim, adapter) = sim(settings).await;
    adapter.dispatch(&batch(&receiver.url, "cb", 20)).await.unwrap();
    wait_until("20 callbacks", LIMIT, || receiver.distinct_references() == 20).await;
    let results: Vec<_> = receiver.deliveries().into_iter().map(|d| d.result).collect();
    assert!(results.iter().any(|r| r.intent.as_deref() == Some("PTP")), "the mix has other intents too");
    assert!(results.iter().any(|r| r.callback_at.is_some()), "some callbacks happened");
    for r in &results {
        let Some(text) = r.callback_at.as_deref() else {
            assert_ne!(r.intent.as_deref(), Some("CALLBACK"), "a callback without a time: {r:?}");
            continue;
        };
        assert_eq!(r.intent.as_deref(), Some("CALLBACK"), "only callbacks name a time: {r:?}");
        let at = chrono::DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&chrono::Utc);
        let wanted = r.ended_at + chrono::TimeDelta::seconds(90);
        assert!(at <= wanted && wanted - at < chrono::TimeDelta::seconds(1), "{at} vs ended_at + 90s");
    }
    // Without callback_after (the default) callbacks carry no time.
    assert_eq!(SimSettings::default().callback_after, None);
    sim.shutdown().await;
}

#[tokio::test]
async fn refused_callback_is_retried_after_the_interval() {
    let receiver = Receiver::start(&[500, 500]).await;
    let (sim, adapter) = sim(fast()).await;
    adapter.dispatch(&batch(&receiver.url, "retry", 1)).await.unwrap();
    let stats = sim.stats.clone();
    wait_until("a delivered callback", LIMIT, || stats.callbacks_delivered.load(Relaxed) == 1).await;
    let tries = receiver.deliveries();
    let answers: Vec<u16> = tries.iter().map(|d| d.answered).collect();
    assert_eq!(answers, [500, 500, 200]);
    assert!(tries.iter().all(|d| d.result == tries[0].result), "every try carries the same body");
    for pair in tries.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(gap >= Duration::from_millis(45), "retried after {gap:?}");
    }
    assert_eq!(stats.callback_failures.load(Relaxed), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn undelivered_result_stays_available_by_lookup() {
    let receiver = Receiver::start(&[503; 10]).await;
    let (sim, adapter) = sim(SimSettings { callback_retries: 1, ..fast() }).await;
    adapter.dispatch(&batch(&receiver.url, "lost", 1)).await.unwrap();
    let stats = sim.stats.clone();
    wait_until("the sim to give up", LIMIT, || {
        stats.callback_failures.load(Relaxed) == 2 && stats.callbacks_pending.load(Relaxed) == 0
    })
    .await;
    assert_eq!(receiver.deliveries().len(), 2, "first delivery + 1 retry");
    assert_eq!(stats.callbacks_delivered.load(Relaxed), 0);
    assert_eq!(stats.callbacks_abandoned.load(Relaxed), 1, "the given-up result is counted");
    let found = adapter.lookup(&AttemptHandle::by_ref("lost-0")).await.unwrap();
    assert!(matches!(found, LookupResult::Finished(ref e) if e.is_final), "{found:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn calls_past_not_after_are_cancelled_not_dialed() {
    let receiver = Receiver::start(&[]).await;
    let (sim, adapter) = sim(fast()).await;
    let mut late = batch(&receiver.url, "late", 5);
    late.not_after = Some(chrono::Utc::now() - chrono::Duration::minutes(1));
    adapter.dispatch(&late).await.unwrap();
    wait_until("5 callbacks", LIMIT, || receiver.distinct_references() == 5).await;
    for d in receiver.deliveries() {
        assert_eq!(d.result.status, "CANCELLED");
        assert_eq!((d.result.started_at, d.result.intent.as_deref()), (None, None));
    }
    assert_eq!(sim.stats.calls_dialed.load(Relaxed), 0);
    assert_eq!(sim.stats.calls_cancelled.load(Relaxed), 5);
    let LookupResult::Finished(event) = adapter.lookup(&AttemptHandle::by_ref("late-3")).await.unwrap() else {
        panic!("late-3 should be finished");
    };
    assert_eq!(event.outcome.disposition, Disposition::Cancelled);
    sim.shutdown().await;
}

#[tokio::test]
async fn cancel_stops_queued_calls_only() {
    let receiver = Receiver::start(&[]).await;
    let slow = SimSettings {
        max_lines: 1,
        latency_min: Duration::from_secs(30),
        latency_max: Duration::from_secs(30),
        ..fast()
    };
    let (sim, adapter) = sim(slow).await;
    adapter.dispatch(&batch(&receiver.url, "q", 3)).await.unwrap();
    let stats = sim.stats.clone();
    wait_until("the first call on the line", LIMIT, || stats.current_dialing.load(Relaxed) == 1).await;
    let refs: Vec<_> = ["q-0", "q-1", "q-2", "unknown-ref"].map(AttemptHandle::by_ref).into();
    adapter.cancel(&refs).await.unwrap();
    wait_until("2 cancellations", LIMIT, || receiver.distinct_references() == 2).await;
    let mut cancelled: Vec<_> = receiver.deliveries().into_iter().map(|d| d.result).collect();
    cancelled.sort_by(|a, b| a.reference.cmp(&b.reference));
    assert_eq!(cancelled.iter().map(|r| r.reference.as_str()).collect::<Vec<_>>(), ["q-1", "q-2"]);
    assert!(cancelled.iter().all(|r| r.status == "CANCELLED"));
    let dialing = adapter.lookup(&AttemptHandle::by_ref("q-0")).await.unwrap();
    assert!(matches!(dialing, LookupResult::Pending { .. }), "{dialing:?}");
    // The raw endpoint says nothing was cancelled for a call on the line.
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/calls/q-0/cancel", sim.base_url()))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.text().await.unwrap(), r#"{"cancelled":0}"#);
    assert_eq!((stats.calls_cancelled.load(Relaxed), stats.calls_dialed.load(Relaxed)), (2, 1));
    sim.shutdown().await;
}

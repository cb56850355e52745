//! Lookups and cancels against the fake's paged `/detail`, and the webhook
//! variations over loopback: a lookup says `NotFound` only from the whole
//! listing; a truncated one is an `Unknown` error, never "safe to redial".

use super::loopback::{Rig, batch, handle};
use super::{OPTS, adapter};
use crate::domain::outcome::{Disposition, Intent};
use crate::vendors::{AttemptHandle, LookupResult, VendorAdapter, VendorErrorKind};
use doubles::FakeBehavior;
use doubles::airudder::Variations;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

fn answered() -> FakeBehavior {
    FakeBehavior { outcomes: [("E".to_string(), 1.0)].into(), ..FakeBehavior::fast(21) }
}

#[tokio::test]
async fn not_found_only_from_the_whole_listing() {
    let paged = format!("{OPTS}detail_page_size = 5\n");
    let rig = Rig::start(answered(), &paged).await;
    let b = batch(12, "p");
    let task = rig.adapter.dispatch(&b).await.unwrap().vendor_task_id;
    rig.wait_finals(12).await;
    let mut stranger = handle(&b, 0, &task);
    stranger.attempt_ref = "inst-999-1".into();
    stranger.phone = "+15550001111".into();
    let pages = || rig.control.detail_requests.load(Relaxed);
    let finished =
        |r: &LookupResult| matches!(r, LookupResult::Finished(e) if e.outcome.disposition == Disposition::Answered);
    let unknown = |r: Result<LookupResult, crate::vendors::VendorError>, why: &str| {
        let e = r.expect_err("must not conclude anything");
        assert_eq!(e.kind, VendorErrorKind::Unknown, "{e}");
        assert!(e.message.contains(why), "{e}");
    };

    // Documented-faithful pages carry `total`: 5 + 5 + 2 rows, then absent.
    for i in [0, 7, 11] {
        assert!(finished(&rig.adapter.lookup(&handle(&b, i, &task)).await.unwrap()), "item {i}");
    }
    let before = pages();
    assert_eq!(rig.adapter.lookup(&stranger).await.unwrap(), LookupResult::NotFound);
    assert_eq!(pages() - before, 3, "every page read");

    // Without `total`: full pages, then a short one, end the listing.
    rig.control.set_variations(Variations { no_total: true, ..Variations::default() });
    assert_eq!(rig.adapter.lookup(&stranger).await.unwrap(), LookupResult::NotFound);

    // A server that caps pages at 2 rows (5 asked) and says no total: rows
    // 2-4 and 7-9 are never seen. What is seen answers; absence proves nothing.
    rig.control.set_variations(Variations { no_total: true, page_cap: Some(2), ..Variations::default() });
    for i in [0, 1, 5, 11] {
        assert!(finished(&rig.adapter.lookup(&handle(&b, i, &task)).await.unwrap()), "item {i}");
    }
    unknown(rig.adapter.lookup(&handle(&b, 7, &task)).await, "may cap");
    unknown(rig.adapter.lookup(&stranger).await, "may cap");
    // The same cap with `total`: the listing ends empty before the total.
    rig.control.set_variations(Variations { page_cap: Some(2), ..Variations::default() });
    unknown(rig.adapter.lookup(&handle(&b, 3, &task)).await, "total says 12");

    // The page limit.
    rig.control.set_variations(Variations::default());
    let limited = adapter(&format!("{paged}detail_max_pages = 2\n"), &rig.fake.base_url());
    unknown(limited.lookup(&stranger).await, "page limit");
    assert!(finished(&limited.lookup(&handle(&b, 9, &task)).await.unwrap()), "within the limit");
    assert_eq!(rig.fake.stats.double_dials.load(Relaxed), 0);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn an_unreadable_row_that_may_be_the_call_is_no_proof_of_absence() {
    let rig = Rig::start(answered(), OPTS).await;
    rig.control.set_variations(Variations { bad_detail_row: true, ..Variations::default() });
    let b = batch(4, "u");
    let task = rig.adapter.dispatch(&b).await.unwrap().vendor_task_id;
    rig.wait_finals(4).await;
    // Row 1 does not parse: its call cannot be answered either way.
    let e = rig.adapter.lookup(&handle(&b, 1, &task)).await.expect_err("not absent, not found");
    assert_eq!(e.kind, VendorErrorKind::Unknown);
    assert!(e.message.contains("result: expected a string"), "{e}");
    // The readable rows answer; a call the bad row names as another's is absent.
    assert!(matches!(rig.adapter.lookup(&handle(&b, 2, &task)).await, Ok(LookupResult::Finished(_))));
    let mut stranger = handle(&b, 0, &task);
    stranger.attempt_ref = "inst-999-1".into();
    stranger.phone = "+15550001111".into();
    assert_eq!(rig.adapter.lookup(&stranger).await.unwrap(), LookupResult::NotFound);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn a_partial_listing_never_stops_the_whole_task() {
    // One line, slow calls: the task's calls wait at the vendor.
    let behavior = FakeBehavior {
        max_lines: 1,
        latency_min: Duration::from_millis(600),
        latency_max: Duration::from_millis(600),
        ..answered()
    };
    let rig = Rig::start(behavior, OPTS).await;
    // Only the first two rows are ever listed.
    rig.control.set_variations(Variations { no_total: true, page_cap: Some(2), ..Variations::default() });
    let b = batch(3, "c");
    let task = rig.adapter.dispatch(&b).await.unwrap().vendor_task_id;
    // Every number the listing shows is cancelled, but the listing is not
    // the task: the third number must still be called.
    let both: Vec<AttemptHandle> = (0..2).map(|i| handle(&b, i, &task)).collect();
    rig.adapter.cancel(&both).await.unwrap();
    let finals = rig.wait_finals(3).await;
    assert_eq!(rig.control.task_status(&task).as_deref(), Some("calling"), "the task was not stopped");
    let third = finals.iter().find(|e| e.attempt_ref.as_deref() == Some(b.items[2].attempt_ref.as_str())).unwrap();
    assert_eq!(third.outcome.disposition, Disposition::Answered);
    let second = finals.iter().find(|e| e.attempt_ref.as_deref() == Some(b.items[1].attempt_ref.as_str())).unwrap();
    assert_eq!(second.outcome.disposition, Disposition::Cancelled);
    rig.fake.shutdown().await;
}

#[tokio::test]
async fn webhook_variations_arrive_whole_over_http() {
    let cases = [
        Variations { nulls: true, numbers_as_strings: true, ..Variations::default() },
        Variations { omit_optional: true, no_task_id: true, ..Variations::default() },
        Variations {
            unmapped_label: Some("Z9".into()),
            progress_result: Some("dialing".into()),
            ..Variations::default()
        },
        Variations { bad_record: true, one_body_per_task: true, ..Variations::default() },
    ];
    for v in cases {
        let rig = Rig::start(answered(), OPTS).await;
        rig.control.set_variations(v.clone());
        let b = batch(6, "v");
        rig.adapter.dispatch(&b).await.unwrap();
        let want = if v.bad_record { 5 } else { 6 };
        let finals = rig.wait_finals(want).await;
        let rejected = rig.inbox.rejected.lock().unwrap().clone();
        assert_eq!(finals.len() + rejected.len(), 6, "{v:?}: nothing dropped");
        let intent = if v.unmapped_label.is_some() { Intent::PromiseToPay } else { Intent::Undecided };
        for e in &finals {
            assert_eq!((e.outcome.disposition, e.outcome.intent), (Disposition::Answered, Some(intent)), "{v:?}");
            assert!(e.attempt_ref.is_some() && e.phone.is_some(), "{v:?}");
        }
        if v.bad_record {
            assert_eq!(rig.inbox.posts.load(Relaxed), 1, "one body for the task");
            assert_eq!((rejected[0].index, rejected[0].phone.is_some()), (1, true));
        }
        if v.progress_result.is_some() {
            let progress = rig.inbox.events.lock().unwrap().iter().filter(|e| !e.is_final).count();
            assert_eq!(progress, 6, "one progress record per dial, none final");
        }
        rig.fake.shutdown().await;
    }
    // Dropped webhooks: nothing posted, the results are in /detail.
    let rig = Rig::start(answered(), OPTS).await;
    rig.control.set_variations(Variations { drop_callbacks: true, ..Variations::default() });
    let b = batch(2, "d");
    let task = rig.adapter.dispatch(&b).await.unwrap().vendor_task_id;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while rig.control.webhooks_dropped.load(Relaxed) == 0 {
        assert!(std::time::Instant::now() < deadline, "no webhook was due");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rig.inbox.posts.load(Relaxed), 0);
    let mut found = 0;
    while found < 2 {
        assert!(std::time::Instant::now() < deadline, "results never listed");
        found = 0;
        for i in 0..2 {
            found +=
                usize::from(matches!(rig.adapter.lookup(&handle(&b, i, &task)).await, Ok(LookupResult::Finished(_))));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.fake.shutdown().await;
}

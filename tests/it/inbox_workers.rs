//! On PostgreSQL one instance applies two pages of the callback inbox at
//! once (`database.inbox_workers`, default 2), kept apart as the pages of
//! two instances are: inbox rows claimed `SKIP LOCKED`, attempts locked in
//! id order. So a page that waits on a lock does not hold up the rest of a
//! burst, and every result is still applied exactly once.

use crate::common::{TestDb, poll_until, rows, scalar};
use crate::storage_conformance::{build, claim_concurrently, sim_result};
use campaignd::clock::Clock;
use campaignd::ingest::processor::drain;
use campaignd::store::inbox;
use sea_orm::{ConnectionTrait, TransactionTrait};
use std::time::Duration;

/// Results for 1,000 attempts: two of the processor's pages of 500.
const RESULTS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_held_up_on_a_lock_does_not_hold_up_the_rest_of_a_burst() {
    let db = TestDb::postgres_always();
    let (ctx, clock, shutdown) = build(&db, RESULTS, RESULTS as u32).await;
    assert_eq!(ctx.settings.database.inbox_workers, 2, "PostgreSQL's default");
    let t1 = clock.now();
    assert_eq!(claim_concurrently(&ctx, "a", t1).await.len(), RESULTS);
    let refs: Vec<String> = rows(&ctx.db, "SELECT attempt_ref FROM attempts ORDER BY id")
        .await
        .iter()
        .map(|r| r.try_get_by_index(0).unwrap())
        .collect();
    // Stored in attempt order: the first page holds the first 500 attempts.
    let results = refs.iter().enumerate().map(|(i, r)| sim_result(r, &format!("call-{i}"), "task-1", t1)).collect();
    inbox::insert_many(&ctx.db, results).await.unwrap();

    // Another transaction (an instance's dispatch write-back, say) holds
    // the first attempt: the page that holds its result must wait for it.
    let hold = ctx.db.begin().await.unwrap();
    let lock = format!("SELECT id FROM attempts WHERE attempt_ref = '{}' FOR UPDATE", refs[0]);
    hold.execute_unprepared(&lock).await.unwrap();

    let pass = tokio::spawn({
        let ctx = ctx.clone();
        async move { drain(&ctx).await }
    });
    let completed = "SELECT COUNT(*) FROM attempts WHERE state = 'completed'";
    poll_until(Duration::from_secs(30), "the other page applied while the first waits", || async {
        (scalar(&ctx.db, completed).await == (RESULTS / 2) as i64).then_some(())
    })
    .await;
    let first = format!("SELECT COUNT(*) FROM attempts WHERE attempt_ref = '{}' AND state = 'completed'", refs[0]);
    assert_eq!(scalar(&ctx.db, &first).await, 0, "the waiting page is not applied yet");
    assert!(!pass.is_finished(), "the pass waits for its held-up page");

    hold.rollback().await.unwrap();
    let report = pass.await.unwrap().unwrap();
    assert_eq!((report.rows, report.applied, report.duplicates, report.late), (RESULTS, RESULTS, 0, 0), "{report:?}");
    assert_eq!(scalar(&ctx.db, completed).await, RESULTS as i64);
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM dials").await, RESULTS as i64, "one dial per result");
    let pending = "SELECT COUNT(*) FROM callback_inbox WHERE state = 'pending'";
    assert_eq!(scalar(&ctx.db, pending).await, 0);
    shutdown.cancel();
}

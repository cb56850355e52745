//! On SQLite the inbox processor reads and decides a page outside the
//! process's write turn and takes the turn only to write it, behind a
//! `WriteFence` (`ingest::processor::apply_page`). A write transaction that
//! ends in between must send the page back to be decided again under the
//! turn: written as first decided, it would act on facts that no longer hold.

use crate::common::{TestDb, rows, scalar};
use crate::storage_conformance::{build, claim_concurrently, sim_result};
use campaignd::clock::Clock;
use campaignd::ingest::processor::drain_with;
use campaignd::store::db::{Writer, begin_write};
use campaignd::store::inbox;
use sea_orm::ConnectionTrait;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A callback naming a call id that the dispatch answer records while its
/// page is being decided: on the facts read, nothing matches and the row
/// would be parked to wait; the fence saw the write, so the page is decided
/// again and the result applied at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_decided_before_another_write_ended_is_decided_again() {
    let db = TestDb::sqlite();
    let (ctx, clock, shutdown) = build(&db, 1, 1000).await;
    let t1 = clock.now();
    assert_eq!(claim_concurrently(&ctx, "a", t1).await.len(), 1);
    let reference: String = rows(&ctx.db, "SELECT attempt_ref FROM attempts").await[0].try_get_by_index(0).unwrap();
    inbox::insert_many(&ctx.db, vec![sim_result("elsewhere-1", "c-late", "task-late", t1)]).await.unwrap();

    let between = AtomicUsize::new(0);
    let record_call_id = async || {
        if between.fetch_add(1, Ordering::SeqCst) > 0 {
            return;
        }
        let txn = begin_write(&ctx.db, Writer::Other).await.unwrap();
        let sql = format!("UPDATE attempts SET external_call_id = 'c-late' WHERE attempt_ref = '{reference}'");
        txn.execute_unprepared(&sql).await.unwrap();
        txn.commit().await.unwrap();
    };
    let r = drain_with(&ctx, &record_call_id).await.unwrap();
    assert_eq!(between.load(Ordering::SeqCst), 1, "the page was decided outside the write turn");
    assert_eq!((r.rows, r.applied, r.waiting), (1, 1, 0), "decided again after the write: {r:?}");
    assert_eq!(scalar(&ctx.db, "SELECT COUNT(*) FROM attempts WHERE state = 'completed'").await, 1);
    shutdown.cancel();
}

/// New inbox rows do not move the fence: a page decided while a callback
/// is stored is written as decided, and the new row gets a page of its own
/// (had the store moved the fence, the first page would have been decided
/// again under the turn, taking both rows at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_stored_meanwhile_do_not_send_a_page_back() {
    let db = TestDb::sqlite();
    let (ctx, clock, shutdown) = build(&db, 1, 1000).await;
    let t1 = clock.now();
    inbox::insert_many(&ctx.db, unknown_calls(0..1, t1)).await.unwrap();
    let between = AtomicUsize::new(0);
    let store_another = async || {
        if between.fetch_add(1, Ordering::SeqCst) == 0 {
            let another = unknown_calls(1..2, t1).pop().unwrap();
            ctx.inbox.store(another).await.unwrap();
        }
    };
    let r = drain_with(&ctx, &store_another).await.unwrap();
    assert_eq!((r.rows, r.waiting), (2, 2), "{r:?}");
    assert_eq!(between.load(Ordering::SeqCst), 2, "each row's page was decided outside the turn");
    shutdown.cancel();
}

/// A backlog drained while nothing else writes: a page decided outside the
/// turn would let no one through and cost a second transaction, so only
/// the pass's first page is (it has no history yet); the rest are decided
/// and written in one write transaction each, and every row is still taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_with_no_other_writer_is_decided_under_the_turn_after_its_first_page() {
    let db = TestDb::sqlite();
    let (ctx, clock, shutdown) = build(&db, 1, 1000).await;
    let t1 = clock.now();
    // Three pages of the processor's 500 rows.
    inbox::insert_many(&ctx.db, unknown_calls(0..1001, t1)).await.unwrap();
    let outside = AtomicUsize::new(0);
    let count = async || {
        outside.fetch_add(1, Ordering::SeqCst);
    };
    let r = drain_with(&ctx, &count).await.unwrap();
    assert_eq!((r.rows, r.waiting), (1001, 1001), "{r:?}");
    assert_eq!(outside.load(Ordering::SeqCst), 1, "only the first of three pages was decided outside the turn");
    shutdown.cancel();
}

/// Callbacks for calls we never made, numbered from `which`: each is parked
/// to wait when its page is decided.
fn unknown_calls(which: std::ops::Range<usize>, at: chrono::DateTime<chrono::Utc>) -> Vec<inbox::NewCallback> {
    which.map(|i| sim_result(&format!("nobody-{i}"), &format!("u-{i}"), "not-ours", at)).collect()
}

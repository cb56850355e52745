//! The outbox commits with the result or not at all, and its lease lets one
//! holder deliver an event at a time.

use super::*;
use crate::domain::forwarding::{ForwardEvent, ForwardEvents};
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::recall::AttemptResult;
use crate::domain::routing::VendorSlot;
use crate::store::apply::apply_result;
use crate::store::claim::{Lease, claim};
use crate::store::{db, testkit};
use chrono::{TimeDelta, TimeZone};
use entity::attempt;
use std::collections::HashMap;

async fn claimed(
    phones: &[&str],
) -> (crate::store::Db, crate::domain::campaign::Campaign, Vec<attempt::Model>, DateTime<Utc>) {
    let conn = testkit::memory_db().await;
    let (_, _, mut camp) = testkit::running_campaign(&conn, phones).await;
    camp.forward = ForwardEvents::of(&[ForwardEvent::ContactFinal, ForwardEvent::AttemptCompleted]);
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 10, own_redials: 0 })]);
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    let lease = Lease { owner: "test", until: t0 + TimeDelta::minutes(1) };
    claim(&conn, &camp, &slots, 10, &lease, t0).await.expect("claim");
    let attempts = attempt::Entity::find().order_by_asc(attempt::Column::Id).all(&conn).await.unwrap();
    (conn, camp, attempts, t0)
}

fn answered() -> AttemptResult {
    AttemptResult::Completed(Outcome::new(Disposition::Answered).with_raw_code("sim", "ANSWERED"))
}

#[tokio::test]
async fn a_rolled_back_result_leaves_no_event_and_a_committed_one_leaves_its_events() {
    let (conn, camp, attempts, t0) = claimed(&["+6281200000001"]).await;
    let a = &attempts[0];
    let now = t0 + TimeDelta::minutes(2);

    let txn = db::begin_write(&conn, db::Writer::Other).await.unwrap();
    apply_result(&txn, &camp, a, &answered(), None, now).await.unwrap();
    assert_eq!(Entity::find().count(&txn).await.unwrap(), 2, "written inside the transaction");
    drop(txn); // rolled back: the page failed after its writes
    assert_eq!(Entity::find().count(&conn).await.unwrap(), 0, "no event without its result");
    let still = attempt::Entity::find_by_id(a.id).one(&conn).await.unwrap().unwrap();
    assert_eq!(still.state, "dispatching", "and no result without its event");

    let txn = db::begin_write(&conn, db::Writer::Other).await.unwrap();
    apply_result(&txn, &camp, a, &answered(), None, now).await.unwrap();
    txn.commit().await.unwrap();
    let rows = for_attempt(&conn, a.id).await.unwrap();
    let types: Vec<&str> = rows.iter().map(|r| r.event_type.as_str()).collect();
    assert_eq!(types, ["attempt.completed", "contact.final"]);
    let body: serde_json::Value = serde_json::from_str(&rows[1].payload).unwrap();
    assert_eq!(body["type"], "contact.final");
    assert_eq!(body["data"]["contact"]["phone"], "+6281200000001");
    assert_eq!(body["data"]["attempt"]["id"], a.attempt_ref.as_str());
    assert_eq!(body["data"]["attempt"]["raw_code"], "sim:ANSWERED");
    assert_ne!(rows[0].event_id, rows[1].event_id);

    // A duplicate of the result changes nothing, so it forwards nothing.
    let txn = db::begin_write(&conn, db::Writer::Other).await.unwrap();
    apply_result(&txn, &camp, a, &answered(), None, now).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(Entity::find().count(&conn).await.unwrap(), 2);
}

#[tokio::test]
async fn one_holder_at_a_time_until_its_lease_runs_out() {
    let (conn, camp, attempts, t0) = claimed(&["+6281200000001"]).await;
    let now = t0 + TimeDelta::minutes(2);
    let txn = db::begin_write(&conn, db::Writer::Other).await.unwrap();
    apply_result(&txn, &camp, &attempts[0], &answered(), None, now).await.unwrap();
    txn.commit().await.unwrap();

    let until = now + TimeDelta::seconds(30);
    let a = claim_due(&conn, "a", now, until, 10).await.unwrap();
    assert_eq!(a.len(), 2);
    assert!(claim_due(&conn, "b", now + TimeDelta::seconds(29), until, 10).await.unwrap().is_empty());
    // a died: b takes over once the lease ran out; a's late record is refused.
    let later = now + TimeDelta::seconds(31);
    let b = claim_due(&conn, "b", later, later + TimeDelta::seconds(30), 10).await.unwrap();
    assert_eq!(b.len(), 2);
    let retry = AfterFailure::RetryAt(later + TimeDelta::seconds(5));
    assert!(!record_failed(&conn, a[0].id, "a", Some(500), "late", retry, later).await.unwrap());
    assert!(record_failed(&conn, b[0].id, "b", Some(500), "the receiver answered 500", retry, later).await.unwrap());
    record_delivered(&conn, b[1].id, 200, later).await.unwrap();
    // Not due before its retry time; delivered events are never claimed again.
    assert!(
        claim_due(&conn, "a", later + TimeDelta::seconds(4), later + TimeDelta::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = claim_due(&conn, "a", later + TimeDelta::seconds(5), later + TimeDelta::minutes(1), 10).await.unwrap();
    assert_eq!(again.iter().map(|r| r.id).collect::<Vec<_>>(), [b[0].id]);
    assert_eq!(again[0].attempts, 1);

    // Dead, then replayed with the same id.
    let dead_at = later + TimeDelta::seconds(6);
    assert!(record_failed(&conn, b[0].id, "a", None, "timeout", AfterFailure::Dead, dead_at).await.unwrap());
    assert_eq!(counts(&conn).await.unwrap(), (0, 1));
    assert_eq!(list(&conn, Listed::Dead, 0, 10).await.unwrap()[0].event_id, b[0].event_id);
    let replayed = replay(&conn, &b[0].event_id, dead_at).await.unwrap().expect("replayed");
    assert_eq!((replayed.dead_at, replayed.replayed_at, replayed.attempts), (None, Some(dead_at), 0));
    assert_eq!(counts(&conn).await.unwrap(), (1, 0));
    assert!(replay(&conn, "evt_nope", dead_at).await.unwrap().is_none());
}

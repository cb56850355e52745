//! The page's matcher finds, for every kind of event, the attempt the
//! one-event matcher finds (and the one the rules name).

use super::*;
use crate::domain::outcome::{Disposition, Outcome};
use crate::domain::routing::VendorSlot;
use crate::store::attempt_match::find_attempt_by_call;
use crate::store::claim::{Lease, claim};
use crate::store::testkit;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::NotSet, ConnectionTrait, Set};

fn event(call: Option<&str>, task: Option<&str>, phone: Option<&str>, at: Option<DateTime<Utc>>) -> CallEvent {
    let mut e = CallEvent::final_outcome(Outcome::new(Disposition::Answered));
    e.external_call_id = call.map(str::to_string);
    e.vendor_task_id = task.map(str::to_string);
    e.phone = phone.map(str::to_string);
    e.started_at = at;
    e
}

async fn exec(db: &crate::store::Db, sql: String) {
    db.execute_unprepared(&sql).await.expect("update");
}

#[tokio::test]
async fn a_page_of_events_matches_as_each_event_alone_does() {
    let db = testkit::memory_db().await;
    let phones = ["+6281200000001", "+6281200000002", "+6281200000003", "+6281200000004", "+6281200000005"];
    let (_, row, camp) = testkit::running_campaign(&db, &phones).await;
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 10, own_redials: 0 })]);
    let t0 = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    let lease = Lease { owner: "test", until: t0 + TimeDelta::minutes(1) };
    claim(&db, &camp, &slots, 10, &lease, t0).await.expect("claim");
    let by_phone = |p: &str| format!("+62812000000{p}");
    let all = attempt::Entity::find().all(&db).await.unwrap();
    assert_eq!(all.len(), 5);
    let id = |p: &str| all.iter().find(|a| a.phone.as_deref() == Some(by_phone(p).as_str())).unwrap().id;

    // 01: call id `call-1` at sim; 02 and 03: sim's task `task-A`; 04: the
    // same call id `call-1` at another vendor; 05: called twice, 30 min apart.
    exec(&db, format!("UPDATE attempts SET external_call_id = 'call-1' WHERE id = {}", id("01"))).await;
    exec(&db, format!("UPDATE attempts SET external_call_id = 'call-1', vendor_id = 'other' WHERE id = {}", id("04")))
        .await;
    let task = vendor_task::ActiveModel {
        id: NotSet,
        vendor_id: Set("sim".into()),
        campaign_id: Set(row.id),
        external_task_id: Set(Some("task-A".into())),
        state: Set("created".into()),
        size: Set(2),
        created_at: Set(t0),
        updated_at: Set(t0),
        ..Default::default()
    }
    .insert(&db)
    .await
    .unwrap();
    exec(&db, format!("UPDATE attempts SET vendor_task_id = {} WHERE id IN ({}, {})", task.id, id("02"), id("03")))
        .await;
    let first = all.iter().find(|a| a.id == id("05")).unwrap().clone();
    exec(&db, format!("UPDATE attempts SET state = 'completed' WHERE id = {}", first.id)).await;
    let mut again: attempt::ActiveModel = first.clone().into();
    again.id = NotSet;
    again.attempt_no = Set(2);
    again.attempt_ref = Set(format!("{}-again", first.attempt_ref));
    again.created_at = Set(t0 + TimeDelta::minutes(30));
    let again = again.insert(&db).await.unwrap();

    let p = |n: &str| by_phone(n);
    let (p02, p03, p05) = (p("02"), p("03"), p("05"));
    let between = Some(t0 + TimeDelta::minutes(10));
    let cases: Vec<(&str, CallEvent, Option<i64>)> = vec![
        ("sim", event(Some("call-1"), None, None, None), Some(id("01"))),
        ("other", event(Some("call-1"), None, None, None), Some(id("04"))),
        ("sim", event(Some("unknown"), Some("task-A"), Some(&p02), None), Some(id("02"))),
        // The task is known and the phone is not in it: nothing else is tried.
        ("sim", event(None, Some("task-A"), Some(&p05), between), None),
        // A task we never recorded: the phone decides, fenced by the time.
        ("sim", event(None, Some("task-Z"), Some(&p05), between), Some(first.id)),
        ("sim", event(None, None, Some(&p05), Some(t0 + TimeDelta::minutes(40))), Some(again.id)),
        // No time and two attempts to the number: cannot be fenced.
        ("sim", event(None, None, Some(&p05), None), None),
        ("sim", event(None, None, Some(&p03), None), Some(id("03"))),
        ("other", event(None, None, Some(&p03), None), None),
        ("sim", event(Some("zzz"), None, None, None), None),
    ];
    let asked: Vec<(&str, &CallEvent)> = cases.iter().map(|(v, e, _)| (*v, e)).collect();
    let page = find_attempts_by_call(&db, &asked).await.unwrap();
    for (n, ((vendor, e, expected), got)) in cases.iter().zip(&page).enumerate() {
        let alone = find_attempt_by_call(&db, vendor, e).await.unwrap().map(|a| a.id);
        let got = got.as_ref().map(|a| a.id);
        assert_eq!(got, *expected, "case {n}: {vendor} {e:?}");
        assert_eq!(got, alone, "case {n}: the page and the event alone disagree");
    }
}

//! The claim's JSON-carried writes store what the entities would have:
//! the same values, and instants in the same text (SQLite compares them as
//! text, so a differently written instant would sort wrongly).

use super::*;
use crate::store::decisions::{DecisionBuffer, Subject};
use crate::store::testkit;
use chrono::TimeZone;
use entity::{attempt, decision};
use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder, Statement};

#[tokio::test]
async fn a_round_writes_attempts_contacts_and_decisions_as_the_entities_read_them() {
    let conn = testkit::memory_db().await;
    let (_, _, camp) = testkit::running_campaign(&conn, &["+6281211110001", "+6281211110002"]).await;
    let contacts = contact::Entity::find().order_by_asc(contact::Column::Id).all(&conn).await.unwrap();
    let (first, second) = (&contacts[0], &contacts[1]);
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap() + chrono::TimeDelta::microseconds(250);
    let next = now + chrono::TimeDelta::milliseconds(1500);
    let lease = Lease { owner: "me", until: now + chrono::TimeDelta::minutes(2) };

    // The same deferral written by the decision buffer (entities), as a reference.
    let mut reference = DecisionBuffer::default();
    let subject = Subject::Contact { id: second.id, phone: &second.phone, attempt_no: None };
    reference.record(camp.id, subject, "deferred", "why", Some(next), now);
    reference.flush(&conn).await.unwrap();

    let round = RoundWrites {
        campaign_id: camp.id,
        attempts: vec![NewAttempt {
            contact_id: first.id,
            attempt_no: 1,
            vendor_id: "sim".into(),
            attempt_ref: "inst-1-1".into(),
            phone: first.phone.clone(),
            case_id: Some("case \"7\"".into()),
            max_dials: 2,
        }],
        decisions: vec![
            ContactDecision {
                contact_id: first.id,
                phone: first.phone.clone(),
                attempt_no: Some(1),
                kind: "dispatched",
                reason: "dispatched to sim".into(),
                next_at: None,
            },
            ContactDecision {
                contact_id: second.id,
                phone: second.phone.clone(),
                attempt_no: None,
                kind: "deferred",
                reason: "why".into(),
                next_at: Some(next),
            },
        ],
        lease: &lease,
    };
    write_round(&conn, round, now).await.unwrap();

    let a = attempt::Entity::find().one(&conn).await.unwrap().expect("the attempt");
    assert_eq!(
        (a.campaign_id, a.contact_id, a.attempt_no, a.vendor_id.as_str(), a.attempt_ref.as_str()),
        (camp.id, first.id, 1, "sim", "inst-1-1")
    );
    assert_eq!(
        (a.state.as_str(), a.phone.as_deref(), a.case_id.as_deref()),
        ("dispatching", Some(first.phone.as_str()), Some("case \"7\""))
    );
    assert_eq!((a.max_dials, a.lease_owner.as_deref(), a.lease_expires_at), (2, Some("me"), Some(lease.until)));
    assert_eq!((a.created_at, a.updated_at, a.dispatched_at), (now, now, None));

    let c = contact::Entity::find_by_id(first.id).one(&conn).await.unwrap().expect("the contact");
    assert_eq!((c.state.as_str(), c.due_at, c.attempt_seq), ("in_flight", None, first.attempt_seq + 1));
    assert_eq!(c.last_vendor_id.as_deref(), Some("sim"));
    let untouched = contact::Entity::find_by_id(second.id).one(&conn).await.unwrap().expect("the contact");
    assert_eq!(untouched.state, second.state, "a decision alone writes no contact");

    let rows = decision::Entity::find().order_by_asc(decision::Column::Id).all(&conn).await.unwrap();
    let written: Vec<_> =
        rows.iter().map(|d| (d.contact_id, d.attempt_no, d.kind.as_str(), d.next_at, d.at, d.zones.clone())).collect();
    assert_eq!(
        written,
        [
            (Some(second.id), None, "deferred", Some(next), now, None),
            (Some(first.id), Some(1), "dispatched", None, now, None),
            (Some(second.id), None, "deferred", Some(next), now, None),
        ]
    );
    let raw = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT next_at, at FROM decisions WHERE next_at IS NOT NULL ORDER BY id",
        ))
        .await
        .unwrap();
    let texts: Vec<(String, String)> =
        raw.iter().map(|r| (r.try_get("", "next_at").unwrap(), r.try_get("", "at").unwrap())).collect();
    assert_eq!(texts[0], texts[1], "the same text as the entity wrote");
}

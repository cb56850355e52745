use super::*;
use crate::store::testkit::{declared_campaign, memory_db};
use chrono::TimeDelta;
use entity::{attempt, contact};
use sea_orm::{ActiveModelTrait, Set};

async fn add_contact(db: &crate::store::Db, campaign_id: i64, n: i64, state: &str, seq: i32) -> i64 {
    let now = Utc::now();
    contact::ActiveModel {
        campaign_id: Set(campaign_id),
        phone: Set(format!("+6281255500{n:02}")),
        variables: Set(serde_json::json!({})),
        state: Set(state.into()),
        attempt_seq: Set(seq),
        recall_history: Set(serde_json::json!({})),
        last_vendor_failed: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

async fn add_attempt(db: &crate::store::Db, campaign_id: i64, contact_id: i64, no: i32, completed_at: DateTime<Utc>) {
    attempt::ActiveModel {
        campaign_id: Set(campaign_id),
        contact_id: Set(contact_id),
        attempt_no: Set(no),
        vendor_id: Set("sim".into()),
        attempt_ref: Set(format!("{contact_id}-{no}")),
        state: Set("completed".into()),
        disposition: Set(Some("answered".into())),
        intent: Set(Some("paid".into())),
        created_at: Set(completed_at),
        completed_at: Set(Some(completed_at)),
        max_dials: Set(1),
        updated_at: Set(completed_at),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

const FIELDS: &str = "timezone = \"Asia/Jakarta\"\nwindows = \"daily 00:00-24:00\"";

#[tokio::test]
async fn contacts_are_counted_with_the_attempts_their_open_ones_have_left() {
    let db = memory_db().await;
    let (_, camp) = declared_campaign(&db, "c", FIELDS).await;
    for (n, (state, seq)) in
        [("pending", 0), ("waiting_retry", 1), ("in_flight", 3), ("done", 1), ("done", 2)].iter().enumerate()
    {
        add_contact(&db, camp.id, n as i64, state, *seq).await;
    }
    let t = contact_tally(&db, camp.id, 3).await.unwrap();
    let mut by_state = t.by_state.clone();
    by_state.sort();
    let expected = [("done", 2), ("in_flight", 1), ("pending", 1), ("waiting_retry", 1)];
    assert_eq!(by_state, expected.map(|(s, n)| (s.to_string(), n)));
    // pending 3 + waiting_retry 2 + in flight on its last attempt 1.
    assert_eq!(t.open_work, OpenWork { min: 3, max: 6 });
}

#[tokio::test]
async fn attempts_finished_since_an_instant_are_told_apart_from_older_ones() {
    let db = memory_db().await;
    let (_, camp) = declared_campaign(&db, "c", FIELDS).await;
    let contact = add_contact(&db, camp.id, 1, "done", 3).await;
    let now = Utc::now();
    add_attempt(&db, camp.id, contact, 1, now - TimeDelta::minutes(40)).await;
    add_attempt(&db, camp.id, contact, 2, now - TimeDelta::minutes(14)).await;
    add_attempt(&db, camp.id, contact, 3, now - TimeDelta::milliseconds(1500)).await;
    let (groups, recent) = attempt_tally(&db, camp.id, now - TimeDelta::minutes(15)).await.unwrap();
    assert_eq!(recent, 2);
    let expected = AttemptGroup {
        state: "completed".into(),
        disposition: Some("answered".into()),
        intent: Some("paid".into()),
        vendor_id: "sim".into(),
        count: 3,
    };
    assert_eq!(groups, [expected]);
    assert_eq!(attempt_tally(&db, camp.id, now).await.unwrap().1, 0);
}

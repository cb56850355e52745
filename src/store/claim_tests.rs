//! Corrupt rows in the claim: reported, taken out of the due queue, never
//! dialed; the rows beside them are claimed as usual. And the in-flight
//! counts a claim reports.

use super::*;
use crate::store::{Db, testkit};
use chrono::TimeZone;
use sea_orm::ConnectionTrait;

async fn running_campaign_with_contacts() -> (Db, Campaign) {
    let conn = testkit::memory_db().await;
    let (_, _, camp) = testkit::running_campaign(&conn, &["+6281211110001", "+6281211110002", "+6281211110003"]).await;
    (conn, camp)
}

#[tokio::test]
async fn a_contact_whose_state_or_phone_does_not_read_is_parked_and_the_others_are_claimed() {
    let (conn, camp) = running_campaign_with_contacts().await;
    conn.execute_unprepared("UPDATE contacts SET state = 'zombie' WHERE phone = '+6281211110001'").await.unwrap();
    conn.execute_unprepared("UPDATE contacts SET phone = 'not a number' WHERE phone = '+6281211110002'").await.unwrap();
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 10, own_redials: 0 })]);
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    let lease = Lease { owner: "test", until: now + chrono::TimeDelta::minutes(1) };
    let report = claim(&conn, &camp, &slots, 10, &lease, now).await.expect("claim");
    let claimed: Vec<&str> = report.claimed.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(claimed, ["+6281211110003"], "only the contact that reads is dialed");

    let parked = contact::Entity::find().filter(contact::Column::DueAt.is_null()).all(&conn).await.unwrap();
    let mut reasons: Vec<String> = parked.iter().filter_map(|c| c.finished_reason.clone()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].contains("unknown contact state `zombie`"), "{reasons:?}");
    assert!(reasons[1].contains("phone does not read as E.164"), "{reasons:?}");
    // Out of the queue: the next claim does not see them again.
    let again = claim(&conn, &camp, &slots, 10, &lease, now + chrono::TimeDelta::seconds(1)).await.expect("claim");
    assert!(again.claimed.is_empty(), "{:?}", again.claimed);
}

/// What the scheduler's in-flight gauges show: the claim's counts, its own
/// new attempts included, and nothing new once the caps are full.
#[tokio::test]
async fn the_claim_reports_what_is_in_flight_once_it_committed() {
    let (conn, camp) = running_campaign_with_contacts().await;
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 2, own_redials: 0 })]);
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    let lease = Lease { owner: "test", until: now + chrono::TimeDelta::minutes(1) };
    let first = claim(&conn, &camp, &slots, 10, &lease, now).await.expect("claim");
    assert_eq!(first.claimed.len(), 2, "the vendor cap");
    let expected = InFlight { campaign: 2, vendors: HashMap::from([("sim".to_string(), 2)]) };
    assert_eq!(first.in_flight, expected);
    let full = claim(&conn, &camp, &slots, 10, &lease, now + chrono::TimeDelta::seconds(1)).await.expect("claim");
    assert!(full.claimed.is_empty());
    assert_eq!(full.in_flight, expected, "counted from the database, as before");
}

/// A claim reads as many due contacts as it has room for; when some of them
/// must wait or finish (here: suppressed numbers at the head of the queue),
/// it reads again for the room left, so the batch is still filled, and the
/// contacts it read before are not read twice.
#[tokio::test]
async fn a_claim_reads_again_for_the_room_that_contacts_which_must_wait_left() {
    let conn = testkit::memory_db().await;
    let phones = ["+6281211110001", "+6281211110002", "+6281211110003", "+6281211110004", "+6281211110005"];
    let (_, _, camp) = testkit::running_campaign(&conn, &phones).await;
    let now = Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap();
    // Queue order by due_at: 0001, 0002 (both suppressed) first, then 0003…0005.
    for (i, phone) in phones.iter().enumerate() {
        let due = now - chrono::TimeDelta::minutes(10 - i as i64);
        contact::Entity::update_many()
            .col_expr(contact::Column::DueAt, sea_orm::sea_query::Expr::value(due))
            .filter(contact::Column::Phone.eq(*phone))
            .exec(&conn)
            .await
            .unwrap();
    }
    for phone in &phones[..2] {
        entity::suppression::Entity::insert(entity::suppression::ActiveModel {
            phone: sea_orm::Set(phone.to_string()),
            reason: sea_orm::Set("paid".into()),
            source: sea_orm::Set("test".into()),
            created_at: sea_orm::Set(now),
            expires_at: sea_orm::Set(None),
            ..Default::default()
        })
        .exec(&conn)
        .await
        .unwrap();
    }
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 10, own_redials: 0 })]);
    let lease = Lease { owner: "test", until: now + chrono::TimeDelta::minutes(1) };
    let report = claim(&conn, &camp, &slots, 2, &lease, now).await.expect("claim");
    let claimed: Vec<&str> = report.claimed.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(claimed, ["+6281211110003", "+6281211110004"], "the batch is filled past the suppressed head");
    assert_eq!(report.suppressed, 2);
    let expected = InFlight { campaign: 2, vendors: HashMap::from([("sim".to_string(), 2)]) };
    assert_eq!(report.in_flight, expected);
    let due: Vec<String> = contact::Entity::find()
        .filter(contact::Column::DueAt.is_not_null())
        .all(&conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.phone)
        .collect();
    assert_eq!(due, ["+6281211110005"], "the contact behind the batch is left for the next claim");
}

/// A campaign open 09:00-18:00 whose callees are in Jakarta (10:00 at
/// [`open_in_jakarta`], open) or New York (22:00, closed), each contact due
/// the given minutes before that instant; returns the campaign.
async fn two_zone_campaign(conn: &Db, contacts: &[(&str, &str, i64)]) -> Campaign {
    let fields = "timezone = \"Asia/Jakarta\"\nwindows = \"daily 09:00-18:00\"\ndefault_country_code = \"62\"";
    let (settings, row) = testkit::declared_campaign(conn, "c", fields).await;
    let lines: Vec<String> = contacts.iter().map(|(phone, zone, _)| format!("{phone},{zone}")).collect();
    let csv = format!("phone,timezone\n{}\n", lines.join("\n"));
    crate::import::import_csv(conn, &row, csv.as_bytes(), None, Utc::now()).await.expect("import");
    for (phone, _, minutes_before) in contacts {
        contact::Entity::update_many()
            .col_expr(
                contact::Column::DueAt,
                Expr::value(open_in_jakarta() - chrono::TimeDelta::minutes(*minutes_before)),
            )
            .filter(contact::Column::Phone.eq(*phone))
            .exec(conn)
            .await
            .unwrap();
    }
    let mut camp = crate::store::campaigns::parse(&row, &settings.compliance).expect("parse");
    camp.state = crate::domain::state::CampaignState::Running;
    camp
}

fn open_in_jakarta() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 3, 0, 0).unwrap()
}

/// A claim of at most 2 at `open_in_jakarta()`, the vendor's cap ample.
async fn claim_two(conn: &Db, camp: &Campaign) -> ClaimReport {
    let now = open_in_jakarta();
    let slots = HashMap::from([("sim".to_string(), VendorSlot { cap: 10, own_redials: 0 })]);
    let lease = Lease { owner: "test", until: now + chrono::TimeDelta::minutes(1) };
    claim(conn, camp, &slots, 2, &lease, now).await.expect("claim")
}

async fn due_phones(conn: &Db, now: DateTime<Utc>) -> Vec<String> {
    let due = contact::Entity::find().filter(contact::Column::DueAt.lte(now)).all(conn).await.unwrap();
    let mut phones: Vec<String> = due.into_iter().map(|c| c.phone).collect();
    phones.sort();
    phones
}

/// A closed zone group at the head of the due queue is moved as a whole
/// (every due contact of it, not only those read), and the batch is read
/// again behind it, so it is still filled from the groups that are open.
#[tokio::test]
async fn a_closed_group_at_the_head_of_the_queue_is_moved_whole_and_the_batch_filled_behind_it() {
    let conn = testkit::memory_db().await;
    let contacts = [
        ("+6281211110001", "America/New_York", 30),
        ("+6281211110002", "America/New_York", 29),
        ("+6281211110003", "America/New_York", 28),
        ("+6281211110004", "Asia/Jakarta", 20),
        ("+6281211110005", "Asia/Jakarta", 19),
        ("+6281211110006", "America/New_York", 10),
        ("+6281211110007", "Asia/Jakarta", 5),
    ];
    let camp = two_zone_campaign(&conn, &contacts).await;
    let now = open_in_jakarta();
    // A batch of 2: the first read holds only New York contacts.
    let report = claim_two(&conn, &camp).await;
    let claimed: Vec<&str> = report.claimed.iter().map(|c| c.phone.as_str()).collect();
    assert_eq!(claimed, ["+6281211110004", "+6281211110005"], "filled from the open group");
    assert_eq!(report.deferred, 4, "the whole New York group, the one behind the batch too");
    assert_eq!(due_phones(&conn, now).await, ["+6281211110007"], "only the Jakarta contact behind the batch");
    let moved = contact::Entity::find().filter(contact::Column::Zones.eq("America/New_York")).all(&conn).await.unwrap();
    assert!(moved.iter().all(|c| c.due_at.is_some_and(|d| d > now)), "moved to the next opening: {moved:?}");
    let audit = entity::decision::Entity::find().all(&conn).await.unwrap();
    let deferred: Vec<_> = audit.iter().filter(|d| d.kind == "deferred").collect();
    assert_eq!(deferred.len(), 1, "one audit row for the group: {audit:?}");
    assert_eq!(deferred[0].zones.as_deref(), Some("America/New_York"));
    assert_eq!(deferred[0].detail, Some(serde_json::json!({ "contacts": 4 })));
}

/// The claim reads a batch, not the queue: a closed group whose contacts
/// are all behind the batch is left where it is until one of them reaches
/// the head (the only moment it could be dialed), so a tick over a million
/// due contacts reads a batch of them.
#[tokio::test]
async fn a_closed_group_behind_the_batch_is_not_read() {
    let conn = testkit::memory_db().await;
    let contacts = [
        ("+6281211110001", "Asia/Jakarta", 30),
        ("+6281211110002", "Asia/Jakarta", 29),
        ("+6281211110003", "America/New_York", 10),
        ("+6281211110004", "America/New_York", 9),
    ];
    let camp = two_zone_campaign(&conn, &contacts).await;
    let now = open_in_jakarta();
    let first = claim_two(&conn, &camp).await;
    assert_eq!(first.claimed.len(), 2);
    assert_eq!(first.deferred, 0, "no contact of the closed group was read");
    assert_eq!(due_phones(&conn, now).await, ["+6281211110003", "+6281211110004"], "left in the queue");
    // Next claim: the group is at the head, and moved whole.
    let next = claim_two(&conn, &camp).await;
    assert!(next.claimed.is_empty(), "{:?}", next.claimed);
    assert_eq!(next.deferred, 2);
    assert!(due_phones(&conn, now).await.is_empty());
}

//! `campaignd explain` and its admin API: a contact's own decisions merged
//! with its zone group's, attempts, suppression entry and recent dials, from
//! rows written straight through the entities.

use crate::common;

use campaignd::store::explain::{ExplainError, explain};
use chrono::{DateTime, Duration, DurationRound, Utc};
use common::daemon::{Daemon, cli};
use common::{ConfigSpec, TestDb, fast_sim, start_sim};
use entity::{attempt, campaign, contact, decision, dial, suppression};
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

const TOKEN: &str = "s3cret";

async fn add_campaign(db: &DatabaseConnection, name: &str, now: DateTime<Utc>) -> i64 {
    campaign::ActiveModel {
        name: Set(name.into()),
        // Paused: the daemon started below leaves its contacts alone.
        state: Set("paused".into()),
        timezone: Set("Asia/Jakarta".into()),
        windows: Set("daily 09:00-20:00".into()),
        blackout_dates: Set(String::new()),
        max_concurrency: Set(1),
        vendors: Set("sim-a".into()),
        recall_policy: Set(serde_json::json!({ "max_attempts": 3, "default": { "action": "stop" } })),
        default_country_code: Set(Some("62".into())),
        redial_strategy: Set("failover".into()),
        vendor_redial: Set(false),
        profiles: Set(String::new()),
        caps: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

struct NewContact<'a> {
    campaign_id: i64,
    phone: &'a str,
    zones: Option<&'a str>,
    state: &'a str,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

async fn add_contact(db: &DatabaseConnection, c: NewContact<'_>) -> i64 {
    contact::ActiveModel {
        campaign_id: Set(c.campaign_id),
        phone: Set(c.phone.into()),
        case_id: Set(Some(format!("CASE{}", &c.phone[c.phone.len() - 1..]))),
        variables: Set(serde_json::json!({})),
        state: Set(c.state.into()),
        attempt_seq: Set(1),
        recall_history: Set(serde_json::json!({})),
        last_vendor_failed: Set(false),
        zones: Set(c.zones.map(String::from)),
        zone_source: Set(c.zones.map(|_| "country".to_string())),
        created_at: Set(c.created_at),
        updated_at: Set(c.updated_at),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

/// A decision; `contact_id` None with `zones` is a group decision.
async fn add_decision(
    db: &DatabaseConnection,
    campaign_id: i64,
    contact_id: Option<i64>,
    zones: Option<&str>,
    at: DateTime<Utc>,
    kind: &str,
    reason: &str,
) -> i64 {
    decision::ActiveModel {
        at: Set(at),
        campaign_id: Set(campaign_id),
        contact_id: Set(contact_id),
        zones: Set(zones.map(String::from)),
        attempt_no: Set(contact_id.map(|_| 1)),
        kind: Set(kind.into()),
        reason: Set(reason.into()),
        next_at: Set((kind == "deferred").then(|| at + Duration::hours(2))),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap()
    .id
}

async fn add_dial(
    db: &DatabaseConnection,
    campaign_id: i64,
    contact_id: i64,
    phone: &str,
    at: DateTime<Utc>,
    seq: i32,
) {
    dial::ActiveModel {
        attempt_id: Set(contact_id * 100 + i64::from(seq)),
        seq: Set(seq),
        contact_id: Set(contact_id),
        campaign_id: Set(campaign_id),
        vendor_id: Set("sim-a".into()),
        phone: Set(phone.into()),
        dialed_at: Set(at),
        disposition: Set("no_answer".into()),
        vendor_redial: Set(seq > 0),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
}

struct Fixture {
    /// Decision ids expected for contacts A, B and C, in order.
    a: Vec<i64>,
    b: Vec<i64>,
    c: Vec<i64>,
}

/// Campaign `audit` with contacts A (zones Asia/Jakarta, waiting), B (the
/// campaign's zone, zones NULL) and C (Asia/Makassar, finished at t0+2h),
/// all created at t0; campaign `older` dialed A's number too.
async fn fixture(db: &DatabaseConnection, now: DateTime<Utc>) -> Fixture {
    let t0 = now - Duration::days(1);
    let h = Duration::hours;
    let audit = add_campaign(db, "audit", t0 - h(5)).await;
    let older = add_campaign(db, "older", t0 - Duration::days(30)).await;
    let contact = |phone, zones, state, updated_at| NewContact {
        campaign_id: audit,
        phone,
        zones,
        state,
        created_at: t0,
        updated_at,
    };
    let a = add_contact(db, contact("+6281200000001", Some("Asia/Jakarta"), "waiting_retry", t0 + h(3))).await;
    let b = add_contact(db, contact("+6281200000002", None, "pending", t0)).await;
    add_contact(db, contact("+6281200000003", Some("Asia/Makassar"), "done", t0 + h(2))).await;
    let other = add_contact(db, NewContact { campaign_id: older, ..contact("+6281200000001", None, "done", t0) }).await;

    let jakarta = Some("Asia/Jakarta");
    // Before A existed: not part of its trail.
    add_decision(db, audit, None, jakarta, t0 - h(1), "deferred", "window closed for zones Asia/Jakarta").await;
    let a_group =
        add_decision(db, audit, None, jakarta, t0 + h(1), "deferred", "window closed for zones Asia/Jakarta").await;
    let a_dispatched = add_decision(db, audit, Some(a), None, t0 + h(2), "dispatched", "window open").await;
    // Written later, taken earlier: the trail orders by time, not by id.
    let a_capped =
        add_decision(db, audit, Some(a), None, t0 + Duration::minutes(30), "capped", "campaign cap 1 full").await;
    // Another campaign's group with the same zones.
    add_decision(db, older, None, jakarta, t0 + h(1), "deferred", "other campaign").await;
    // The campaign-zone group is `''`; NULL zones match nobody.
    let b_group =
        add_decision(db, audit, None, Some(""), t0 + h(1), "deferred", "window closed for the campaign zone").await;
    add_decision(db, audit, None, None, t0 + h(1), "deferred", "no zones recorded").await;
    let b_own = add_decision(db, audit, Some(b), None, t0 + Duration::minutes(10), "busy", "vendor sim-a busy").await;
    let makassar = Some("Asia/Makassar");
    let c_group =
        add_decision(db, audit, None, makassar, t0 + h(1), "deferred", "window closed for zones Asia/Makassar").await;
    // After C finished (t0+2h): no longer about C.
    add_decision(db, audit, None, makassar, t0 + h(3), "deferred", "window closed for zones Asia/Makassar").await;

    attempt::ActiveModel {
        campaign_id: Set(audit),
        contact_id: Set(a),
        attempt_no: Set(1),
        vendor_id: Set("sim-a".into()),
        attempt_ref: Set(format!("{a}-1")),
        state: Set("completed".into()),
        disposition: Set(Some("no_answer".into())),
        raw_code: Set(Some("sim:NO_ANSWER".into())),
        created_at: Set(t0 + h(2)),
        dispatched_at: Set(Some(t0 + h(2))),
        completed_at: Set(Some(t0 + h(2) + Duration::seconds(40))),
        phone: Set(Some("+6281200000001".into())),
        max_dials: Set(1),
        updated_at: Set(t0 + h(2)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    add_dial(db, audit, a, "+6281200000001", t0 + h(2), 0).await;
    add_dial(db, older, other, "+6281200000001", now - Duration::days(2), 1).await;
    // Eight days ago: outside the 7-day look-back.
    add_dial(db, older, other, "+6281200000001", now - Duration::days(8), 0).await;
    suppression::ActiveModel {
        phone: Set("+6281200000001".into()),
        reason: Set("dnc".into()),
        source: Set("import".into()),
        created_at: Set(t0 - Duration::days(20)),
        expires_at: Set(Some(t0 - Duration::days(10))),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    Fixture { a: vec![a_capped, a_group, a_dispatched], b: vec![b_own, b_group], c: vec![c_group] }
}

fn ids(e: &campaignd::store::explain::Explanation) -> Vec<i64> {
    e.decisions.iter().map(|d| d.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_merges_own_and_group_decisions_and_shows_attempts_dials_and_suppression() {
    let db = TestDb::new();
    let sim = start_sim(fast_sim(0.0)).await;
    let sim_url = sim.base_url();
    let config = ConfigSpec::new(&db.url, &sim_url).write(&db, &format!("admin_token = \"{TOKEN}\""));
    let conn = db.connect().await;
    campaignd::store::db::migrate(&conn).await.unwrap();
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap();
    let f = fixture(&conn, now).await;

    // A national number takes the campaign's country code, as at import.
    let a = explain(&conn, "audit", "0812-0000-0001", now).await.unwrap();
    assert_eq!(ids(&a), f.a, "own decisions and the zone group's, in time order, none before creation");
    assert_eq!(a.decisions.iter().map(|d| d.scope).collect::<Vec<_>>(), ["contact", "group", "contact"]);
    assert_eq!(a.decisions[1].next_at, Some(a.decisions[1].at + Duration::hours(2)));
    assert_eq!(a.local_timezone, "Asia/Jakarta");
    assert_eq!((a.contact.state.as_str(), a.contact.zones.as_deref()), ("waiting_retry", Some("Asia/Jakarta")));
    assert_eq!(a.attempts.len(), 1);
    assert_eq!((a.attempts[0].vendor_id.as_str(), a.attempts[0].raw_code.as_deref()), ("sim-a", Some("sim:NO_ANSWER")));
    let dials: Vec<(&str, bool)> = a.recent_dials.iter().map(|d| (d.campaign.as_str(), d.vendor_redial)).collect();
    assert_eq!(dials, [("older", true), ("audit", false)], "the last 7 days, every campaign, oldest first");
    let s = a.suppression.as_ref().expect("the expired entry is shown");
    assert!(!s.active && s.reason == "dnc", "{s:?}");

    let b = explain(&conn, "audit", "+6281200000002", now).await.unwrap();
    assert_eq!(ids(&b), f.b, "a contact in the campaign's zone gets the '' group's decisions");
    assert!(b.suppression.is_none() && b.attempts.is_empty() && b.recent_dials.is_empty());
    let c = explain(&conn, "audit", "+6281200000003", now).await.unwrap();
    assert_eq!(ids(&c), f.c, "a finished contact gets no group decisions after its last change");

    match explain(&conn, "nope", "+6281200000001", now).await {
        Err(ExplainError::Store(e)) => assert_eq!(e.to_string(), "no campaign named `nope`"),
        other => panic!("{other:?}"),
    }
    let err = explain(&conn, "audit", "+6281299999999", now).await.unwrap_err();
    assert_eq!(err.to_string(), "+6281299999999 is not a contact of campaign `audit`");
    assert!(matches!(explain(&conn, "audit", "12ab", now).await, Err(ExplainError::Phone(_))));

    // The CLI: a readable trail, and the same structure as JSON.
    let out = cli(&config, &["explain", "--campaign", "audit", "--phone", "+6281200000001"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("campaign audit (paused), contact +6281200000001 case CASE1\n"), "{text}");
    let kinds: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "decisions:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split(')').nth(1).unwrap().split_whitespace().next().unwrap())
        .collect();
    assert_eq!(kinds, ["capped", "deferred", "dispatched"], "{text}");
    assert!(text.contains("[group Asia/Jakarta]") && text.contains("WIB ("), "{text}");
    assert!(text.contains("suppression: expired — dnc (source import)"), "{text}");
    assert!(text.contains("  #1 sim-a completed: no_answer / - (raw sim:NO_ANSWER)"), "{text}");
    assert!(text.contains("older via sim-a: no_answer / - (vendor redial)"), "{text}");
    let out = cli(&config, &["explain", "--campaign", "audit", "--phone", "+6281200000001", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let json_ids: Vec<i64> = json["decisions"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!(json_ids, f.a);
    let out = cli(&config, &["explain", "--campaign", "audit", "--phone", "+6281299999999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a contact of campaign `audit`"));

    // The admin API answers the same JSON.
    let daemon = Daemon::start(&config);
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(daemon.url(path)).bearer_auth(TOKEN).send();
    let r = get("/api/v1/campaigns/audit/contacts/%2B6281200000002/explain").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let api_ids: Vec<i64> = body["decisions"].as_array().unwrap().iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!(api_ids, f.b);
    assert_eq!(body["decisions"][1]["scope"], "group");
    assert_eq!(body["decisions"][1]["zones"], "");
    assert_eq!(body["contact"]["phone"], "+6281200000002");
    assert_eq!(body["campaign"]["name"], "audit");
    assert!(body["suppression"].is_null());
    for (path, expected) in [
        ("/api/v1/campaigns/audit/contacts/+6281299999999/explain", 404),
        ("/api/v1/campaigns/nope/contacts/+6281200000001/explain", 404),
        ("/api/v1/campaigns/audit/contacts/12ab/explain", 400),
    ] {
        assert_eq!(get(path).await.unwrap().status().as_u16(), expected, "{path}");
    }
    let r = http.get(daemon.url("/api/v1/campaigns/audit/contacts/+6281200000001/explain")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let doc: serde_json::Value =
        http.get(daemon.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/campaigns/{name}/contacts/{phone}/explain"]["get"].is_object());
    drop(daemon);
}

use super::*;
use crate::config::DatabaseSettings;
use crate::store::db;
use chrono::{Duration, TimeZone};

/// A fresh, migrated SQLite file (kept alive by the returned directory).
async fn sqlite() -> (tempfile::TempDir, DatabaseConnection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = DatabaseSettings {
        max_connections: 2,
        sqlite_synchronous_full: false,
        busy_timeout: std::time::Duration::from_secs(5),
        ..DatabaseSettings::with_url(format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()))
    };
    let conn = db::connect(&settings).await.expect("connect");
    db::migrate(&conn).await.expect("migrate");
    (dir, conn)
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

fn entry(phone: &str, reason: &str, expires_in_days: Option<i64>) -> Entry {
    Entry {
        phone: phone.into(),
        reason: reason.into(),
        source: format!("src-{reason}"),
        expires_at: expires_in_days.map(|d| now() + Duration::days(d)),
    }
}

async fn stored(db: &DatabaseConnection, phone: &str) -> suppression::Model {
    get(db, phone).await.unwrap().unwrap_or_else(|| panic!("{phone} is on the list"))
}

#[tokio::test]
async fn an_import_never_shortens_an_entry_and_a_longer_one_replaces_it() {
    let (_dir, db) = sqlite().await;
    let first = [
        entry("+628111111111", "complaint", None),
        entry("+628122222222", "dnc-30d", Some(30)),
        entry("+628133333333", "dnc-90d", Some(90)),
    ];
    let counts = upsert_many(&db, &first, now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 3, extended: 0, unchanged: 0 });

    let later = now() + Duration::hours(1);
    let second = [
        entry("+628111111111", "dnc-90d", Some(90)), // shorter than never
        entry("+628122222222", "dnc-90d", Some(90)), // longer than 30 d
        entry("+628133333333", "dnc-30d", Some(30)), // shorter than 90 d
        entry("+628144444444", "new", Some(10)),
    ];
    let counts = upsert_many(&db, &second, later).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 1, extended: 1, unchanged: 2 });

    let complaint = stored(&db, "+628111111111").await;
    assert_eq!((complaint.reason.as_str(), complaint.expires_at), ("complaint", None), "never beats 90 days");
    let extended = stored(&db, "+628122222222").await;
    assert_eq!(extended.reason, "dnc-90d", "the longer entry brings its reason");
    assert_eq!(extended.source, "src-dnc-90d");
    assert_eq!(extended.expires_at, Some(now() + Duration::days(90)));
    assert_eq!(extended.created_at, now(), "the entry keeps when the number was first listed");
    let kept = stored(&db, "+628133333333").await;
    assert_eq!((kept.reason.as_str(), kept.expires_at), ("dnc-90d", Some(now() + Duration::days(90))));

    // A never-expiring import lifts a dated entry to never.
    let counts = upsert_many(&db, &[entry("+628133333333", "complaint", None)], later).await.unwrap();
    assert_eq!(counts.extended, 1);
    assert_eq!(stored(&db, "+628133333333").await.expires_at, None);
}

#[tokio::test]
async fn equal_ends_keep_the_stored_reason_and_duplicates_take_the_longest() {
    let (_dir, db) = sqlite().await;
    upsert_many(&db, &[entry("+628111111111", "first", Some(30))], now()).await.unwrap();
    let counts = upsert_many(&db, &[entry("+628111111111", "second", Some(30))], now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 0, extended: 0, unchanged: 1 });
    assert_eq!(stored(&db, "+628111111111").await.reason, "first");

    // Three entries for one new number in one import: the longest wins,
    // wherever it stands in the input; the other two count as unchanged.
    let dupes = [
        entry("+628155555555", "short", Some(5)),
        entry("+628155555555", "long", Some(50)),
        entry("+628155555555", "mid", Some(20)),
    ];
    let counts = upsert_many(&db, &dupes, now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 1, extended: 0, unchanged: 2 });
    assert_eq!(stored(&db, "+628155555555").await.reason, "long");
}

#[tokio::test]
async fn the_statement_itself_refuses_to_weaken_a_stored_entry() {
    // What a concurrent writer would do: write a weaker entry after the
    // caller read the list. The database guard keeps the stronger one.
    let (_dir, db) = sqlite().await;
    upsert_many(&db, &[entry("+628111111111", "complaint", None), entry("+628122222222", "long", Some(90))], now())
        .await
        .unwrap();
    let weaker = [entry("+628111111111", "weak", Some(1)), entry("+628122222222", "weak", Some(30))];
    write_entries(&db, &weaker.iter().collect::<Vec<_>>(), now()).await.unwrap();
    assert_eq!(stored(&db, "+628111111111").await.reason, "complaint");
    assert_eq!(stored(&db, "+628122222222").await.reason, "long");
    let stronger = [entry("+628122222222", "longer", Some(91))];
    write_entries(&db, &stronger.iter().collect::<Vec<_>>(), now()).await.unwrap();
    assert_eq!(stored(&db, "+628122222222").await.reason, "longer");
}

#[tokio::test]
async fn an_expired_entry_is_revived_listing_filters_and_only_remove_deletes() {
    let (_dir, db) = sqlite().await;
    upsert_many(&db, &[entry("+628111111111", "old", Some(1)), entry("+628122222222", "live", None)], now())
        .await
        .unwrap();
    let later = now() + Duration::days(2);
    let active = list(&db, ListFilter::Active, later).await.unwrap();
    assert_eq!(active.iter().map(|s| s.phone.as_str()).collect::<Vec<_>>(), ["+628122222222"]);
    assert_eq!(list(&db, ListFilter::All, later).await.unwrap().len(), 2, "expired entries are listed with --all");

    let counts = upsert_many(&db, &[entry("+628111111111", "renewed", Some(30))], later).await.unwrap();
    assert_eq!(counts.extended, 1, "a later end revives an expired entry");
    assert_eq!(list(&db, ListFilter::Active, later).await.unwrap().len(), 2);

    assert!(remove(&db, "+628122222222").await.unwrap());
    assert!(!remove(&db, "+628122222222").await.unwrap(), "removing twice finds nothing");
    assert!(get(&db, "+628122222222").await.unwrap().is_none());
    let counts = upsert_many(&db, &[entry("+628122222222", "again", Some(1))], later).await.unwrap();
    assert_eq!(counts.added, 1, "after a remove the number can be listed anew, even shorter");
}

#[tokio::test]
async fn large_imports_go_in_batches_and_count_every_entry() {
    let (_dir, db) = sqlite().await;
    let many: Vec<Entry> = (0..1203).map(|i| entry(&format!("+6281{:08}", 10_000_000 + i), "bulk", Some(30))).collect();
    let counts = upsert_many(&db, &many, now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 1203, extended: 0, unchanged: 0 });
    let counts = upsert_many(&db, &many, now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 0, extended: 0, unchanged: 1203 });
    let mut longer = many.clone();
    longer[1202].expires_at = None;
    let counts = upsert_many(&db, &longer, now()).await.unwrap();
    assert_eq!(counts, UpsertCounts { added: 0, extended: 1, unchanged: 1202 });
    assert_eq!(list(&db, ListFilter::All, now()).await.unwrap().len(), 1203);
}

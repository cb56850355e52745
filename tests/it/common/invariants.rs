//! Campaign invariants asserted from the database after (and during) a run.

use super::{rows, scalar};
use chrono::{DateTime, Utc};
use entity::attempt;
use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

/// Highest in-flight counts seen while sampling.
#[derive(Default)]
pub struct Peaks {
    /// Every campaign together.
    pub campaign: AtomicI64,
    /// By campaign name.
    pub per_campaign: std::sync::Mutex<BTreeMap<String, i64>>,
    pub per_vendor: std::sync::Mutex<BTreeMap<String, i64>>,
    pub contact_double_in_flight: AtomicI64,
    /// Numbers on two calls at once (in one campaign or across campaigns).
    pub phone_double_in_flight: AtomicI64,
    pub samples: AtomicI64,
}

/// Raise each key's peak in `peaks` to the `(key, count)` rows of `sql`.
async fn sample_grouped(db: &DatabaseConnection, sql: &str, peaks: &std::sync::Mutex<BTreeMap<String, i64>>) {
    for r in rows(db, sql).await {
        let k: String = r.try_get_by_index(0).expect("group key");
        let n: i64 = r.try_get_by_index(1).expect("count");
        let mut m = peaks.lock().expect("lock");
        let e = m.entry(k).or_insert(0);
        *e = (*e).max(n);
    }
}

/// Sample in-flight counts every 20 ms until `stop` is set.
pub fn spawn_sampler(db: DatabaseConnection, stop: Arc<AtomicBool>) -> (Arc<Peaks>, tokio::task::JoinHandle<()>) {
    let peaks = Arc::new(Peaks::default());
    let p = peaks.clone();
    let handle = tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let c = scalar(&db, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
            p.campaign.fetch_max(c, Ordering::Relaxed);
            sample_grouped(
                &db,
                "SELECT c.name, COUNT(*) FROM attempts a JOIN campaigns c ON c.id = a.campaign_id \
                 WHERE a.state IN ('dispatching','dispatched') GROUP BY c.name",
                &p.per_campaign,
            )
            .await;
            sample_grouped(
                &db,
                "SELECT vendor_id, COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched') GROUP BY vendor_id",
                &p.per_vendor,
            )
            .await;
            let d = scalar(
                &db,
                "SELECT COUNT(*) FROM (SELECT contact_id FROM attempts WHERE state IN ('dispatching','dispatched') \
                 GROUP BY contact_id HAVING COUNT(*) > 1) AS doubles",
            )
            .await;
            p.contact_double_in_flight.fetch_max(d, Ordering::Relaxed);
            let d = scalar(
                &db,
                "SELECT COUNT(*) FROM (SELECT c.phone FROM attempts a JOIN contacts c ON c.id = a.contact_id \
                 WHERE a.state IN ('dispatching','dispatched') GROUP BY c.phone HAVING COUNT(*) > 1) AS doubles",
            )
            .await;
            p.phone_double_in_flight.fetch_max(d, Ordering::Relaxed);
            p.samples.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (peaks, handle)
}

pub fn assert_peaks(peaks: &Peaks, campaign_cap: i64, vendor_caps: &[(&str, i64)]) {
    assert!(peaks.samples.load(Ordering::Relaxed) > 5, "sampler must have observed the run");
    let c = peaks.campaign.load(Ordering::Relaxed);
    assert!(c > 0, "sampler saw no attempt in flight");
    assert!(c <= campaign_cap, "campaign in-flight peaked at {c} > cap {campaign_cap}");
    let m = peaks.per_vendor.lock().expect("lock");
    for (v, cap) in vendor_caps {
        let seen = m.get(*v).copied().unwrap_or(0);
        assert!(seen <= *cap, "vendor {v} in-flight peaked at {seen} > cap {cap}");
    }
    assert_eq!(peaks.contact_double_in_flight.load(Ordering::Relaxed), 0, "a contact had two attempts in flight");
    assert_eq!(peaks.phone_double_in_flight.load(Ordering::Relaxed), 0, "a number was on two calls at once");
}

/// Each campaign's in-flight peak within its own cap (and above zero: the
/// sampler saw it dial).
pub fn assert_campaign_peaks(peaks: &Peaks, campaign_caps: &[(&str, i64)]) {
    let m = peaks.per_campaign.lock().expect("lock");
    for (name, cap) in campaign_caps {
        let seen = m.get(*name).copied().unwrap_or(0);
        assert!(seen > 0, "sampler saw no attempt of campaign {name} in flight");
        assert!(seen <= *cap, "campaign {name} in-flight peaked at {seen} > cap {cap}");
    }
}

/// Every contact terminal; attempts within limits; retries spaced.
pub async fn assert_final(db: &DatabaseConnection, contacts: i64, max_attempts: i64, min_spacing: Duration) {
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM contacts").await, contacts, "contacts imported");
    let open = scalar(db, "SELECT COUNT(*) FROM contacts WHERE state IN ('pending','in_flight','waiting_retry')").await;
    assert_eq!(open, 0, "every contact must be terminal");
    let over = scalar(
        db,
        &format!(
            "SELECT COUNT(*) FROM (SELECT contact_id FROM attempts WHERE state IN ('completed','lost') \
             GROUP BY contact_id HAVING COUNT(*) > {max_attempts}) AS o"
        ),
    )
    .await;
    assert_eq!(over, 0, "a contact exceeded max_attempts");
    let seq_mismatch = scalar(
        db,
        "SELECT COUNT(*) FROM contacts c WHERE c.attempt_seq <> (SELECT COUNT(*) FROM attempts a WHERE a.contact_id = c.id)",
    )
    .await;
    assert_eq!(seq_mismatch, 0, "attempt_seq must count the contact's attempts");
    let in_flight = scalar(db, "SELECT COUNT(*) FROM attempts WHERE state IN ('dispatching','dispatched')").await;
    assert_eq!(in_flight, 0, "no attempt may stay in flight");

    let attempts = attempt::Entity::find()
        .order_by_asc(attempt::Column::ContactId)
        .order_by_asc(attempt::Column::AttemptNo)
        .all(db)
        .await
        .expect("attempts");
    let spacing = chrono::Duration::from_std(min_spacing).expect("duration");
    let mut retries = 0;
    for pair in attempts.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.contact_id != b.contact_id {
            continue;
        }
        retries += 1;
        let done: DateTime<Utc> =
            a.completed_at.unwrap_or_else(|| panic!("attempt {} has a successor but no completion", a.attempt_ref));
        assert!(
            b.created_at >= done + spacing,
            "attempt {} started {} after {} finished at {}: closer than {min_spacing:?}",
            b.attempt_ref,
            b.created_at,
            a.attempt_ref,
            done
        );
    }
    assert!(retries > 0, "the outcome mix must have produced retries");
}

use super::*;
use crate::domain::vendor_scorecard::scorecards;

fn at(s: &str) -> Option<DateTime<Utc>> {
    Some(s.parse().unwrap())
}

fn timing(vendor: &str, ring_ms: Option<i64>, ended: &str, received: &str) -> CallTiming {
    CallTiming {
        vendor_id: vendor.into(),
        disposition: Some("answered".into()),
        ring_ms,
        vendor_ended_at: at(ended),
        received_at: at(received),
    }
}

fn card(figures: &CallFigures, promises: u64) -> VendorScorecard {
    let mut cards = scorecards(&["v".to_string()], &[], &[]);
    cards[0].by_intent.insert("promise_to_pay".into(), promises);
    add_call_figures(&mut cards, figures);
    cards.remove(0)
}

#[test]
fn percentiles_are_nearest_rank() {
    let mut v: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(percentile(&mut v, 50), Some(10.0));
    assert_eq!(percentile(&mut v, 95), Some(19.0));
    assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 50), Some(2.0), "sorted first");
    assert_eq!(percentile(&mut [7.0], 95), Some(7.0));
    assert_eq!(percentile(&mut [], 50), None);
}

#[test]
fn ring_time_and_callback_lag_per_vendor() {
    let figures = CallFigures {
        timings: vec![
            timing("v", Some(2000), "2026-12-05T10:00:00Z", "2026-12-05T10:00:01Z"),
            timing("v", Some(4000), "2026-12-05T10:00:00Z", "2026-12-05T10:00:03Z"),
            timing("v", Some(9000), "2026-12-05T10:00:00Z", "2026-12-05T10:00:30Z"),
            // No ring time and no end: counts for neither.
            CallTiming { vendor_ended_at: None, ..timing("v", None, "2026-12-05T10:00:00Z", "2026-12-05T10:00:00Z") },
            // Nobody answered: it rang until the vendor gave up, which is not
            // the vendor's time to answer (its lag of 2 s counts).
            CallTiming {
                disposition: Some("no_answer".into()),
                ..timing("v", Some(60_000), "2026-12-05T10:00:00Z", "2026-12-05T10:00:02Z")
            },
            // A vendor clock ahead of ours: a lag of 0, not negative.
            timing("v", None, "2026-12-05T10:00:05Z", "2026-12-05T10:00:00Z"),
            timing("other", Some(100_000), "2026-12-05T10:00:00Z", "2026-12-05T11:00:00Z"),
        ],
        ..CallFigures::default()
    };
    let c = card(&figures, 0);
    assert_eq!(c.ring_p50_seconds, Some(4.0));
    assert_eq!(c.ring_average_seconds, Some(5.0));
    assert_eq!(c.callback_lag_p50_seconds, Some(2.0), "lags 0, 1, 2, 3, 30");
    assert_eq!(c.callback_lag_p95_seconds, Some(30.0));
}

#[test]
fn nothing_reported_leaves_the_figures_null() {
    let c = card(&CallFigures::default(), 0);
    assert_eq!((c.ring_p50_seconds, c.ring_average_seconds), (None, None));
    assert_eq!((c.callback_lag_p50_seconds, c.callback_lag_p95_seconds), (None, None));
    assert!(c.costs.is_empty());
}

#[test]
fn cost_per_currency_per_reached_contact_and_per_promise() {
    let figures = CallFigures {
        costs: vec![
            CostGroup { vendor_id: "v".into(), currency: "USD".into(), micros: 1_000_000, attempts: 4 },
            CostGroup { vendor_id: "v".into(), currency: "EUR".into(), micros: 10, attempts: 1 },
            CostGroup { vendor_id: "other".into(), currency: "USD".into(), micros: 5, attempts: 1 },
        ],
        reached: vec![("v".into(), 3), ("other".into(), 9)],
        ..CallFigures::default()
    };
    let c = card(&figures, 2);
    assert_eq!((c.reached_contacts, c.promises), (3, 2));
    let usd = c.costs.iter().find(|x| x.currency == "USD").unwrap();
    assert_eq!(usd.total, "1");
    assert_eq!(usd.attempts, 4);
    assert_eq!(usd.per_reached_contact.as_deref(), Some("0.333333"), "rounded to a millionth");
    assert_eq!(usd.per_promise.as_deref(), Some("0.5"));
    assert_eq!(c.costs.len(), 2, "each currency on its own, another vendor's not");

    let none_reached = card(&CallFigures { reached: vec![], ..figures }, 0);
    let usd = none_reached.costs.iter().find(|x| x.currency == "USD").unwrap();
    assert_eq!((usd.per_reached_contact.as_deref(), usd.per_promise.as_deref()), (None, None));
}

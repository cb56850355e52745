//! Behaviour of the simulator, from the `[vendors.sim]` table of config.toml.

use super::codes::{INTENT_CODES, STATUS_CODES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Simulator behaviour, deserialized from the vendor's `[vendors.sim]` table in
/// config.toml. Every field is optional and falls back to [`Default`].
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimSettings {
    /// Weights of final statuses (codes from `codes::STATUS_CODES`).
    pub outcomes: BTreeMap<String, f64>,
    /// Weights of intents for `ANSWERED` calls (codes from `codes::INTENT_CODES`).
    /// Empty (or all zero): answered calls carry no intent.
    pub intents: BTreeMap<String, f64>,
    /// Shortest time a call spends on a line before its result.
    #[serde(with = "humantime_serde")]
    pub latency_min: Duration,
    /// Longest time a call spends on a line before its result.
    #[serde(with = "humantime_serde")]
    pub latency_max: Duration,
    /// Probability that a CreateBatch is refused with 503 `unavailable`.
    pub dispatch_failure_rate: f64,
    /// Probability that a result callback is delivered a second time.
    pub duplicate_rate: f64,
    /// Maximum simultaneously dialing calls; queued calls wait for a line.
    pub max_lines: usize,
    /// Deliveries after the first on a non-2xx answer or a connection error.
    pub callback_retries: u32,
    /// At most this many callback requests in flight at once, as a vendor's
    /// pool of webhook workers sends them (and so at most this many
    /// connections to the receiver); the others wait their turn. Unset: one
    /// request per finished call at once, however many that is.
    pub callback_senders: Option<usize>,
    /// Pause between callback deliveries (real vendors: about a minute).
    #[serde(with = "humantime_serde")]
    pub callback_retry_interval: Duration,
    /// When set, every `CALLBACK` result names the time the callee asked to
    /// be called back at: this long after the call ended (`callback_at`).
    /// The share of such calls is the `CALLBACK` weight in `intents`.
    #[serde(with = "humantime_serde")]
    pub callback_after: Option<Duration>,
    /// Deterministic randomness when set.
    pub seed: Option<u64>,
    /// Fault injection (all off by default; the reliability harness turns
    /// them on). Probability that a result is never called back: it stays
    /// available by lookup only, as when a real vendor loses a webhook.
    pub callback_drop_rate: f64,
    /// A result that rolls a duplicate (`duplicate_rate`) is delivered again
    /// between 1 and this many extra times.
    pub duplicate_max: u32,
    /// Each first delivery waits a random time up to this long, so results
    /// reach the daemon in another order than the calls finished in.
    #[serde(with = "humantime_serde")]
    pub callback_jitter: Duration,
    /// Per finished call, the probability of also sending a validly signed
    /// result for a reference the daemon never sent (a call it cannot know).
    pub unknown_callback_rate: f64,
    /// Every CreateBatch answer is held this long (a slow vendor API; longer
    /// than the daemon's request timeout, it is a timeout).
    #[serde(with = "humantime_serde")]
    pub answer_latency: Duration,
    /// Keep every callback delivery for [`super::SimHandle::deliveries`]
    /// (on by default, for the tests that compare them with the inbox). Not
    /// a config key: the simulator inside the daemon turns it off, as
    /// nothing there reads them and the list grows by one record per
    /// delivery for as long as the daemon runs.
    #[serde(skip)]
    pub record_deliveries: bool,
}

impl Default for SimSettings {
    fn default() -> Self {
        let weights = |pairs: &[(&str, f64)]| -> BTreeMap<String, f64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        SimSettings {
            outcomes: weights(&[
                ("ANSWERED", 40.0),
                ("NO_ANSWER", 30.0),
                ("BUSY", 15.0),
                ("POWER_OFF", 5.0),
                ("REJECTED", 5.0),
                ("VACANT", 5.0),
            ]),
            intents: weights(&[
                ("PTP", 30.0),
                ("PAID", 10.0),
                ("REFUSE", 20.0),
                ("CALLBACK", 15.0),
                ("COMPLAINT", 5.0),
                ("WRONG", 10.0),
                ("INTERESTED", 5.0),
                ("NOT_INTERESTED", 5.0),
            ]),
            latency_min: Duration::from_millis(200),
            latency_max: Duration::from_secs(2),
            dispatch_failure_rate: 0.0,
            duplicate_rate: 0.0,
            max_lines: 1000,
            callback_retries: 5,
            callback_senders: None,
            callback_retry_interval: Duration::from_secs(1),
            // Off: the demo's callback rule keeps its short interval.
            callback_after: None,
            seed: None,
            callback_drop_rate: 0.0,
            duplicate_max: 1,
            callback_jitter: Duration::ZERO,
            unknown_callback_rate: 0.0,
            answer_latency: Duration::ZERO,
            record_deliveries: true,
        }
    }
}

impl SimSettings {
    /// Check the settings; the error names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        check_weights("outcomes", &self.outcomes, STATUS_CODES)?;
        check_weights("intents", &self.intents, INTENT_CODES)?;
        if self.outcomes.values().sum::<f64>() <= 0.0 {
            return Err("outcomes: at least one status needs a positive weight".into());
        }
        check_rate("dispatch_failure_rate", self.dispatch_failure_rate)?;
        check_rate("duplicate_rate", self.duplicate_rate)?;
        check_rate("callback_drop_rate", self.callback_drop_rate)?;
        check_rate("unknown_callback_rate", self.unknown_callback_rate)?;
        if self.callback_senders == Some(0) {
            return Err("callback_senders: must be at least 1 (or unset: no limit)".into());
        }
        if self.duplicate_max == 0 {
            return Err("duplicate_max must be at least 1".into());
        }
        if self.latency_min > self.latency_max {
            return Err(format!(
                "latency_min ({:?}) must not exceed latency_max ({:?})",
                self.latency_min, self.latency_max
            ));
        }
        if self.max_lines == 0 {
            return Err("max_lines must be at least 1".into());
        }
        Ok(())
    }

    /// The status weights as an ordered list (for weighted picks).
    pub(crate) fn outcome_table(&self) -> Vec<(String, f64)> {
        self.outcomes.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// The intent weights as an ordered list (for weighted picks).
    pub(crate) fn intent_table(&self) -> Vec<(String, f64)> {
        self.intents.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

fn check_weights(field: &str, weights: &BTreeMap<String, f64>, known: &[&str]) -> Result<(), String> {
    for (code, weight) in weights {
        if !known.contains(&code.as_str()) {
            return Err(format!("{field}: unknown code `{code}` (expected one of: {})", known.join(", ")));
        }
        if !weight.is_finite() || *weight < 0.0 {
            return Err(format!("{field}: weight of `{code}` must be a finite number >= 0, got {weight}"));
        }
    }
    Ok(())
}

fn check_rate(field: &str, rate: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&rate) { Ok(()) } else { Err(format!("{field} must be between 0 and 1, got {rate}")) }
}

/// Pick a code by weight; `r` is uniform in `[0, 1)`. None when no weight is positive.
pub(crate) fn pick_weighted(table: &[(String, f64)], r: f64) -> Option<&str> {
    let total: f64 = table.iter().map(|(_, w)| *w).sum();
    if total <= 0.0 {
        return None;
    }
    let mut target = r * total;
    let mut last = None;
    for (code, weight) in table.iter().filter(|(_, w)| *w > 0.0) {
        if target < *weight {
            return Some(code);
        }
        target -= weight;
        last = Some(code.as_str());
    }
    last // rounding at the very top of the range
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_use_known_codes() {
        let s = SimSettings::default();
        s.validate().unwrap();
        assert!(s.intents.contains_key("PTP") && s.intents.contains_key("COMPLAINT"));
        assert_eq!(s.max_lines, 1000);
        assert_eq!(s.callback_retries, 5);
    }

    #[test]
    fn empty_table_takes_defaults_and_durations_parse() {
        let s: SimSettings = serde_json::from_str(r#"{"latency_min":"5ms","seed":7}"#).unwrap();
        assert_eq!(s.latency_min, Duration::from_millis(5));
        assert_eq!(s.latency_max, Duration::from_secs(2));
        assert_eq!(s.seed, Some(7));
        s.validate().unwrap();
        let err = serde_json::from_str::<SimSettings>(r#"{"lines":3}"#).unwrap_err();
        assert!(err.to_string().contains("lines"), "{err}");
    }

    #[test]
    fn reads_a_config_toml_table() {
        let table = r#"
            outcomes = { ANSWERED = 1, BUSY = 2.5 }
            intents = { PTP = 1 }
            latency_max = "1s 500ms"
            max_lines = 5
            callback_retry_interval = "1m"
            callback_after = "90s"
        "#;
        let s: SimSettings = toml::from_str(table).unwrap();
        assert_eq!(s.outcomes.get("BUSY"), Some(&2.5));
        assert_eq!(s.outcomes.len(), 2);
        assert_eq!(s.latency_max, Duration::from_millis(1500));
        assert_eq!(s.callback_retry_interval, Duration::from_secs(60));
        assert_eq!(s.callback_after, Some(Duration::from_secs(90)));
        assert_eq!(SimSettings::default().callback_after, None, "no requested times unless asked for");
        assert_eq!((s.max_lines, s.duplicate_rate), (5, 0.0));
        s.validate().unwrap();
        let round_trip: SimSettings = toml::from_str(&toml::to_string(&s).unwrap()).unwrap();
        assert_eq!(round_trip.latency_max, s.latency_max);
        assert_eq!(round_trip.callback_after, s.callback_after);
    }

    #[test]
    fn each_invalid_field_is_named() {
        type Breaker = fn(&mut SimSettings);
        let cases: &[(&str, Breaker)] = &[
            ("outcomes", |s| {
                s.outcomes.insert("HUNG_UP".into(), 1.0);
            }),
            ("outcomes", |s| {
                s.outcomes.insert("BUSY".into(), -1.0);
            }),
            ("outcomes", |s| s.outcomes.clear()),
            ("intents", |s| {
                s.intents.insert("MAYBE".into(), 1.0);
            }),
            ("intents", |s| {
                s.intents.insert("PTP".into(), f64::NAN);
            }),
            ("dispatch_failure_rate", |s| s.dispatch_failure_rate = 1.5),
            ("dispatch_failure_rate", |s| s.dispatch_failure_rate = -0.1),
            ("duplicate_rate", |s| s.duplicate_rate = f64::NAN),
            ("latency_min", |s| s.latency_min = Duration::from_secs(3)),
            ("max_lines", |s| s.max_lines = 0),
            ("callback_drop_rate", |s| s.callback_drop_rate = 2.0),
            ("unknown_callback_rate", |s| s.unknown_callback_rate = -1.0),
            ("duplicate_max", |s| s.duplicate_max = 0),
        ];
        for (field, breaker) in cases {
            let mut s = SimSettings::default();
            breaker(&mut s);
            let err = s.validate().unwrap_err();
            assert!(err.contains(field), "expected `{field}` in: {err}");
        }
    }

    #[test]
    fn weighted_pick_covers_ranges_and_skips_zero_weights() {
        let t = vec![("A".to_string(), 1.0), ("B".to_string(), 0.0), ("C".to_string(), 3.0)];
        assert_eq!(pick_weighted(&t, 0.0), Some("A"));
        assert_eq!(pick_weighted(&t, 0.24), Some("A"));
        assert_eq!(pick_weighted(&t, 0.25), Some("C"));
        assert_eq!(pick_weighted(&t, 0.999_999), Some("C"));
        assert_eq!(pick_weighted(&[("A".to_string(), 0.0)], 0.5), None);
        assert_eq!(pick_weighted(&[], 0.5), None);
    }
}

//! What the fuzz targets in `fuzz/` run, kept in the crate so that the same
//! code runs under `cargo fuzz` (long, coverage-guided, documented in
//! docs/reliability.md) and in the ordinary test suite, which replays every saved
//! corpus input and every crash ever found (`fuzz/regressions/`).
//!
//! Each entry takes arbitrary bytes and must never panic. Where a pure
//! evaluator has an invariant, it is asserted here, so that the fuzzer
//! reports a broken invariant as a crash, not only a panic inside the code.
#![doc(hidden)]

use crate::config::validate;
use crate::domain::outcome::{Disposition, Intent, Outcome};
use crate::domain::recall::{
    self, AttemptResult, Decision, Matcher, RecallHistory, RecallPolicy, RecallRule, RuleAction,
};
use crate::domain::window::CallingWindows;
use crate::vendors::sim::{SimAdapter, SimAdapterConfig};
use crate::vendors::{VendorAdapter, kinds};
use chrono::{DateTime, TimeZone, Utc};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A target's name and entry.
pub type Target = (&'static str, fn(&[u8]));

/// Every target: its name (a `fuzz/fuzz_targets/<name>.rs` file and a
/// `fuzz/corpus/<name>/` folder) and its entry.
pub const TARGETS: &[Target] = &[
    ("callback_airudder", |d| vendor_callback("airudder", d)),
    ("callback_ai_voice", |d| vendor_callback("itnio", d)),
    ("callback_blu", |d| vendor_callback("blu", d)),
    ("callback_laaffic", |d| vendor_callback("laaffic", d)),
    ("callback_smartivr", |d| vendor_callback("smartivr", d)),
    ("callback_sim", |d| vendor_callback("sim", d)),
    ("config", config),
    ("csv_import", csv_import),
    ("window", window),
    ("recall", recall),
];

/// Run target `name` on `data` (what each `fuzz/fuzz_targets/*.rs` calls).
pub fn run(name: &str, data: &[u8]) {
    let Some((_, target)) = TARGETS.iter().find(|(n, _)| *n == name) else { panic!("no fuzz target {name}") };
    target(data)
}

/// One vendor of every kind, with the credentials their checks require.
const VENDORS: &str = r#"
[[vendors]]
id = "airudder"
kind = "airudder"
base_url = "http://127.0.0.1:9"
api_key = "ar-key"
api_secret = "ar-secret"
callback_token = "cb-t0ken"
options = { robot_hash = "robot-1" }

[[vendors]]
id = "itnio"
kind = "ai-voice"
base_url = "http://127.0.0.1:9"
api_key = "itnio-key"
api_secret = "itnio-secret"
callback_token = "cb-t0ken"
options = { dialog_flow_id = 77 }

[[vendors]]
id = "blu"
kind = "blu"
base_url = "http://127.0.0.1:9"
api_key = "blu-app"
api_secret = "blu-key"
callback_token = "cb-t0ken"

[[vendors]]
id = "laaffic"
kind = "laaffic"
base_url = "http://127.0.0.1:9"
api_key = "bDqJFiq9"
api_secret = "7bz1lzh9"
callback_token = "cb-t0ken"
options = { app_id = "app-1", agent_id = 1001 }

[[vendors]]
id = "smartivr"
kind = "smartivr"
base_url = "http://127.0.0.1:9"
api_key = "sivr-token"
callback_token = "cb-t0ken"
options = { group_id = 7 }

[[vendors]]
id = "sim"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "sim-key"
callback_secret = "sim-secret"
"#;

/// The adapters, built once from [`VENDORS`] the way the daemon builds them.
fn adapters() -> &'static Vec<(String, Arc<dyn VendorAdapter>)> {
    static ADAPTERS: OnceLock<Vec<(String, Arc<dyn VendorAdapter>)>> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let settings = validate::parse(VENDORS, Path::new("fuzz.toml"), Path::new("."), &crate::vendors::Kinds)
            .unwrap_or_else(|e| panic!("the fuzz vendors' config is invalid: {e}"));
        settings
            .vendors
            .iter()
            .map(|v| {
                let base = "http://127.0.0.1:9";
                let adapter: Arc<dyn VendorAdapter> = if v.kind == "sim" {
                    let secret = crate::config::Secret::exposed_or_empty;
                    let config = SimAdapterConfig {
                        base_url: base.to_string(),
                        api_key: secret(&v.api_key),
                        callback_secret: secret(&v.callback_secret),
                        request_timeout: v.request_timeout,
                    };
                    Arc::new(SimAdapter::new(&v.id, config).unwrap_or_else(|e| panic!("vendor {}: {e}", v.id)))
                } else {
                    let spec = kinds::find(&v.kind).unwrap_or_else(|| panic!("no kind {}", v.kind));
                    (spec.build)(v, base).unwrap_or_else(|e| panic!("vendor {}: {e}", v.id))
                };
                (v.id.clone(), adapter)
            })
            .collect()
    })
}

/// A vendor's callback parser on any body: a result, an error, never a
/// panic; every record is either an event or a rejected record, never both
/// lost.
pub fn vendor_callback(vendor_id: &str, data: &[u8]) {
    let Some((_, adapter)) = adapters().iter().find(|(id, _)| id == vendor_id) else {
        panic!("no fuzz adapter for {vendor_id}");
    };
    if let Ok(parsed) = adapter.parse_callback(data) {
        for r in &parsed.rejected {
            assert!(!r.reason.is_empty(), "a rejected record must say why");
        }
    }
}

/// The config loader on any text: settings or errors that each name a
/// field, never a panic.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = validate::parse(text, Path::new("fuzz.toml"), Path::new("/nonexistent"), &crate::vendors::Kinds) {
        assert!(!e.to_string().is_empty(), "a config error must say something");
    }
}

/// The CSV row reader of `import` on any bytes: each row is a contact or an
/// error naming its line and field, never a panic.
pub fn csv_import(data: &[u8]) {
    let (cc, zone) = match data.first().map(|b| b % 3) {
        Some(0) => (Some("62"), chrono_tz::Asia::Jakarta),
        Some(1) => (Some("1"), chrono_tz::America::New_York),
        _ => (None, chrono_tz::UTC),
    };
    let Ok(rows) = crate::import::read_rows(data.get(1..).unwrap_or_default(), cc, zone) else { return };
    for row in rows {
        match row {
            Ok(c) => assert!(c.phone.starts_with('+'), "an imported phone is E.164: {}", c.phone),
            Err(e) => assert!(e.line >= 1, "a row error names its line"),
        }
    }
}

/// Bytes read front to back; missing bytes read as zero.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let Some((first, rest)) = self.0.split_first() else { return 0 };
        self.0 = rest;
        *first
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[usize::from(self.u8()) % from.len()]
    }
    /// An instant between 1970 and about 2106, to the second.
    fn instant(&mut self) -> DateTime<Utc> {
        Utc.timestamp_opt(i64::from(self.u32()), 0).single().unwrap_or_default()
    }
}

const ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::UTC,
    chrono_tz::America::New_York,
    chrono_tz::America::Sao_Paulo,
    chrono_tz::Europe::London,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
    chrono_tz::Pacific::Apia,
];

/// The calling-window evaluator: for any window text, zone and instant, the
/// next opening is open and not earlier than asked, an open instant is its
/// own next opening, and the close of an open instant lies after it and is
/// closed.
pub fn window(data: &[u8]) {
    let mut b = Bytes(data);
    let tz = *b.pick(ZONES);
    let from = b.instant();
    let Ok(spec) = std::str::from_utf8(b.0) else { return };
    let Ok(windows) = CallingWindows::parse(spec) else { return };
    if let Some(open) = windows.next_open(from, tz) {
        assert!(open >= from, "next_open {open} before {from} for `{spec}` in {tz}");
        assert!(windows.is_open(open, tz), "next_open {open} is closed for `{spec}` in {tz}");
    }
    if windows.is_open(from, tz) {
        assert_eq!(windows.next_open(from, tz), Some(from), "an open instant is its own opening");
        if let Some(close) = windows.current_close(from, tz) {
            assert!(close > from, "close {close} not after {from} for `{spec}` in {tz}");
            assert!(!windows.is_open(close, tz), "close {close} is open for `{spec}` in {tz}");
        }
    } else {
        assert_eq!(windows.current_close(from, tz), None, "a closed instant has no close");
    }
}

const MATCHERS: &[&str] =
    &["no_answer", "busy", "answered", "intent:callback", "intent:promise_to_pay", "complaint", "sim:BUSY", "unknown"];

/// The recall evaluator: for any policy, history and result, a retry is never
/// due before now, a consuming result uses one attempt, and no retry is given
/// once the attempts or the rule's retries are spent.
pub fn recall(data: &[u8]) {
    let mut b = Bytes(data);
    let action = |b: &mut Bytes| match b.u8() % 3 {
        0 => RuleAction::Stop,
        1 => RuleAction::Suppress,
        _ => RuleAction::Retry { after: Duration::from_secs(u64::from(b.u32())), max: u32::from(b.u8() % 6) },
    };
    let rules = (0..b.u8() % 4)
        .map(|_| RecallRule {
            when: vec![
                Matcher::parse(MATCHERS[usize::from(b.u8()) % MATCHERS.len()]).expect("the fuzz matchers are valid"),
            ],
            action: action(&mut b),
        })
        .collect();
    let policy = RecallPolicy {
        rules,
        max_attempts: u32::from(b.u8() % 8).max(1),
        default_action: action(&mut b),
        vendor_failure_backoff: Duration::from_secs(u64::from(b.u8())),
        max_vendor_failures: u32::from(b.u8() % 30).max(1),
        max_callback_delay: Duration::from_secs(u64::from(b.u32())),
    };
    let history = RecallHistory {
        attempts_used: u32::from(b.u8() % 10),
        rule_retries: (0..b.u8() % 3).map(|_| (usize::from(b.u8() % 5), u32::from(b.u8() % 6))).collect(),
        vendor_failures: u32::from(b.u8() % 30),
    };
    let now = b.instant();
    let outcome = Outcome {
        intent: (b.u8() % 2 == 0).then(|| *b.pick(Intent::ALL)),
        requested_at: (b.u8() % 2 == 0).then(|| b.instant()),
        ..Outcome::new(*b.pick(Disposition::ALL))
    };
    let result = match b.u8() % 3 {
        0 => AttemptResult::VendorFailed { reason: "fuzz".into() },
        1 => AttemptResult::Lost,
        _ => AttemptResult::Completed(outcome),
    };
    let (decision, after) = recall::decide(&policy, &history, &result, now);
    if let Decision::RetryAt { not_before, .. } = decision {
        assert!(not_before >= now, "retry at {not_before} before now {now}");
    }
    if !matches!(result, AttemptResult::VendorFailed { .. }) {
        assert_eq!(after.attempts_used, history.attempts_used.saturating_add(1), "a result consumes one attempt");
        if matches!(decision, Decision::RetryAt { .. }) {
            assert!(after.attempts_used < policy.max_attempts, "a retry past max_attempts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TARGETS;
    use std::path::Path;

    /// Replays every saved corpus input and every regression (an input that
    /// once crashed a target) through its target: what the long fuzz runs
    /// found stays fixed, in every ordinary test run.
    #[test]
    fn every_corpus_and_regression_input_runs_clean() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut replayed = 0;
        for (name, run) in TARGETS {
            for folder in ["corpus", "regressions"] {
                let Ok(entries) = std::fs::read_dir(root.join(folder).join(name)) else { continue };
                for entry in entries.flatten() {
                    let data = std::fs::read(entry.path()).unwrap();
                    run(&data);
                    replayed += 1;
                }
            }
            // Each target also survives the empty input and plain noise.
            run(b"");
            run(&[0xff; 64]);
        }
        assert!(replayed >= TARGETS.len(), "every target has a seed corpus (replayed {replayed})");
    }
}

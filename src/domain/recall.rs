//! What happens to a contact after an attempt: retry later, stop, suppress.
//!
//! [`decide`] is a pure function of the policy, the contact's counters, the
//! result and `now`; the caller persists the returned history and clamps a
//! retry time into the calling windows. A retry is due after the rule's
//! interval, or at the time the callee asked for when the outcome carries one.

use crate::domain::outcome::{Disposition, Intent, Outcome};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Key under which retries of the policy's default action are counted, and
/// the `rule` reported when the default action suppresses.
pub const DEFAULT_RULE: usize = usize::MAX;

/// Raw code that stands in for an attempt whose result was never obtained.
pub const LOST_RAW_CODE: &str = "campaignd:lost";

/// Default of [`RecallPolicy::max_callback_delay`]: two weeks covers "call me
/// next week" and a promised payday without keeping stale promises alive.
pub const DEFAULT_MAX_CALLBACK_DELAY: Duration = Duration::from_secs(14 * 24 * 3600);

/// A recall rule that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecallError {
    /// The matcher text is empty.
    #[error("empty matcher: expected a disposition like `busy`, `intent:promise_to_pay` or `vendor:code`")]
    Empty,
    /// A bare word that is neither a disposition nor an intent.
    #[error(
        "unknown matcher `{text}`: expected a disposition ({dispositions}), an intent ({intents}), or `vendor:code`"
    )]
    UnknownName { text: String, dispositions: String, intents: String },
    /// `intent:` followed by something that is not an intent.
    #[error("unknown intent in `{text}`: expected one of {expected}")]
    UnknownIntent { text: String, expected: String },
    /// `disposition:` followed by something that is not a disposition.
    #[error("unknown disposition in `{text}`: expected one of {expected}")]
    UnknownDisposition { text: String, expected: String },
    /// `vendor:code` with one side empty.
    #[error("raw matcher `{text}` needs both a vendor and a code, like `blu:D01`")]
    BadRaw { text: String },
    /// A policy that can never dial.
    #[error("max_attempts must be at least 1, got {0}")]
    ZeroMaxAttempts(u32),
}

fn names<T: Copy + fmt::Display>(all: &[T]) -> String {
    all.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
}

/// What a rule matches on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// The normalized disposition.
    Disposition(Disposition),
    /// The normalized intent.
    Intent(Intent),
    /// A vendor's raw code or raw intent label, `vendor:code`.
    Raw {
        /// Vendor kind as written, e.g. `blu`.
        vendor: String,
        /// The vendor's code, compared exactly (case-sensitive).
        code: String,
    },
}

impl Matcher {
    /// "busy" | "no_answer" ... (a disposition name; "unknown" means the disposition) |
    /// "intent:promise_to_pay" | "disposition:busy" | "<vendor>:<code>" e.g. "blu:D01",
    /// "sim:NO_ANSWER" (anything else with a colon is raw). A bare word that is
    /// neither a disposition nor an intent is an error listing valid names; a
    /// bare intent name (e.g. "complaint") is accepted as an intent.
    pub fn parse(text: &str) -> Result<Matcher, RecallError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(RecallError::Empty);
        }
        if let Some((prefix, rest)) = t.split_once(':') {
            let (prefix, rest) = (prefix.trim(), rest.trim());
            return match prefix.to_ascii_lowercase().as_str() {
                "intent" => rest
                    .to_ascii_lowercase()
                    .parse()
                    .map(Matcher::Intent)
                    .map_err(|_| RecallError::UnknownIntent { text: t.to_string(), expected: names(Intent::ALL) }),
                "disposition" => rest.to_ascii_lowercase().parse().map(Matcher::Disposition).map_err(|_| {
                    RecallError::UnknownDisposition { text: t.to_string(), expected: names(Disposition::ALL) }
                }),
                _ if prefix.is_empty() || rest.is_empty() => Err(RecallError::BadRaw { text: t.to_string() }),
                // Vendor codes are compared exactly: "D01" and "d01" may differ upstream.
                _ => Ok(Matcher::Raw { vendor: prefix.to_string(), code: rest.to_string() }),
            };
        }
        let word = t.to_ascii_lowercase();
        // Dispositions first, so the ambiguous "unknown" means the disposition.
        if let Ok(d) = word.parse::<Disposition>() {
            return Ok(Matcher::Disposition(d));
        }
        if let Ok(i) = word.parse::<Intent>() {
            return Ok(Matcher::Intent(i));
        }
        Err(RecallError::UnknownName {
            text: t.to_string(),
            dispositions: names(Disposition::ALL),
            intents: names(Intent::ALL),
        })
    }

    /// Does this matcher accept `outcome`? Raw matchers compare `vendor:code`
    /// exactly against both the raw code and the raw intent label.
    pub fn matches(&self, outcome: &Outcome) -> bool {
        match self {
            Matcher::Disposition(d) => outcome.disposition == *d,
            Matcher::Intent(i) => outcome.intent == Some(*i),
            Matcher::Raw { vendor, code } => {
                let is_it = |raw: &Option<String>| {
                    raw.as_deref().and_then(|r| r.split_once(':')).is_some_and(|(v, c)| v == vendor && c == code)
                };
                is_it(&outcome.raw_code) || is_it(&outcome.raw_intent)
            }
        }
    }
}

impl fmt::Display for Matcher {
    /// The canonical text that [`Matcher::parse`] accepts back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Disposition(d) => write!(f, "{d}"),
            Matcher::Intent(i) => write!(f, "intent:{i}"),
            Matcher::Raw { vendor, code } => write!(f, "{vendor}:{code}"),
        }
    }
}

impl FromStr for Matcher {
    type Err = RecallError;
    fn from_str(s: &str) -> Result<Self, RecallError> {
        Matcher::parse(s)
    }
}

/// What to do when a rule (or the default) applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Dial again after `after`, at most `max` times for this rule.
    Retry { after: Duration, max: u32 },
    /// Final answer reached; the contact is done.
    Stop,
    /// Never call this number again.
    Suppress,
}

/// One rule: if ANY matcher matches, take the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallRule {
    /// Alternatives; one match is enough.
    pub when: Vec<Matcher>,
    /// What to do on a match.
    pub action: RuleAction,
}

/// A campaign's recall policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecallPolicy {
    /// Ordered, first match wins.
    pub rules: Vec<RecallRule>,
    /// Campaign-wide cap on attempts that consume (>= 1).
    pub max_attempts: u32,
    /// For outcomes no rule matches.
    pub default_action: RuleAction,
    /// Wait after a vendor-side failure.
    pub vendor_failure_backoff: Duration,
    /// Give up (Stopped) after this many consecutive vendor-side failures.
    pub max_vendor_failures: u32,
    /// Furthest ahead a callee's requested time may put a retry: a bot that
    /// heard "call me next year" (or misread a date) must not park the
    /// contact for months, so later requests are capped to `now` plus this.
    pub max_callback_delay: Duration,
}

impl RecallPolicy {
    /// No rules, max_attempts 3, default Stop, backoff 1m, max_vendor_failures 20,
    /// max_callback_delay 14 days.
    pub fn default_policy() -> Self {
        RecallPolicy {
            rules: Vec::new(),
            max_attempts: 3,
            default_action: RuleAction::Stop,
            vendor_failure_backoff: Duration::from_secs(60),
            max_vendor_failures: 20,
            max_callback_delay: DEFAULT_MAX_CALLBACK_DELAY,
        }
    }

    /// Reject policies that cannot work (max_attempts 0), for config loading.
    pub fn validate(&self) -> Result<(), RecallError> {
        if self.max_attempts == 0 {
            return Err(RecallError::ZeroMaxAttempts(self.max_attempts));
        }
        Ok(())
    }
}

/// Per-contact counters the policy needs; stored by the caller as JSON. A
/// new contact's `{}` reads as no history (every counter zero); anything
/// that is not such an object does not read at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecallHistory {
    /// Attempts that consumed (completed or lost).
    pub attempts_used: u32,
    /// Retries scheduled per rule index ([`DEFAULT_RULE`] for the default action).
    pub rule_retries: BTreeMap<usize, u32>,
    /// Consecutive vendor-side failures since the last consuming attempt.
    pub vendor_failures: u32,
}

/// How an attempt ended, as far as the recall policy cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptResult {
    /// The vendor dialed and reported.
    Completed(Outcome),
    /// Refused/errored before dialing: does NOT consume an attempt.
    VendorFailed {
        /// The vendor's or transport's error, for the record.
        reason: String,
    },
    /// No result could be obtained: consumes an attempt; matched as
    /// disposition `unknown` with raw code `campaignd:lost`.
    Lost,
}

/// What to do with the contact next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Dial again no earlier than `not_before` (caller clamps into windows).
    RetryAt {
        /// `now` plus the rule's (or the vendor-failure) interval; or, when
        /// `requested`, the callee's requested time moved up to `now` if it
        /// has passed and capped to `now + max_callback_delay`.
        not_before: DateTime<Utc>,
        /// Index of the matched rule; None for the default action or a vendor failure.
        rule: Option<usize>,
        /// True when `not_before` comes from the outcome's `requested_at`
        /// rather than the rule's interval. A `not_before` earlier than that
        /// requested time means it was capped by `max_callback_delay`.
        requested: bool,
    },
    /// Final answer reached (Stop action of rule `rule`, None for the default).
    Done { rule: Option<usize> },
    /// max_attempts or a rule's max reached; `reason` says which.
    Exhausted { reason: String },
    /// Add the number to suppression; [`DEFAULT_RULE`] when the default action did it.
    Suppress { rule: usize },
    /// Too many consecutive vendor failures; `reason` has the count and last error.
    Stopped { reason: String },
    /// The vendor put the number on its own blacklist: it is suppressed
    /// whatever the rules say (it would refuse the number anyway).
    Blacklisted,
}

fn after(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    // Absurd waits (centuries) saturate instead of panicking on overflow.
    TimeDelta::from_std(wait).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a retry the callee asked for is due: at the requested time, but never
/// in the past (a slot that has passed, or a late result, means "now") and
/// never beyond `max_delay` from now.
fn callback_due(requested_at: DateTime<Utc>, now: DateTime<Utc>, max_delay: Duration) -> DateTime<Utc> {
    requested_at.max(now).min(after(now, max_delay))
}

/// Pure: given the policy, the contact's history BEFORE this result, the
/// result and now, return the decision and the updated history.
pub fn decide(
    policy: &RecallPolicy,
    history: &RecallHistory,
    result: &AttemptResult,
    now: DateTime<Utc>,
) -> (Decision, RecallHistory) {
    let mut h = history.clone();
    let lost;
    let outcome = match result {
        AttemptResult::VendorFailed { reason } => {
            h.vendor_failures = h.vendor_failures.saturating_add(1);
            let decision = if h.vendor_failures >= policy.max_vendor_failures {
                Decision::Stopped {
                    reason: format!(
                        "{} consecutive vendor failures (max {}), last: {reason}",
                        h.vendor_failures, policy.max_vendor_failures
                    ),
                }
            } else {
                Decision::RetryAt {
                    not_before: after(now, policy.vendor_failure_backoff),
                    rule: None,
                    requested: false,
                }
            };
            return (decision, h);
        }
        AttemptResult::Completed(outcome) => outcome,
        AttemptResult::Lost => {
            lost = Outcome { raw_code: Some(LOST_RAW_CODE.to_string()), ..Outcome::new(Disposition::Unknown) };
            &lost
        }
    };
    h.attempts_used = h.attempts_used.saturating_add(1);
    h.vendor_failures = 0;

    let matched = policy.rules.iter().position(|r| r.when.iter().any(|m| m.matches(outcome)));
    let action = matched.map_or(&policy.default_action, |i| &policy.rules[i].action);
    let decision = match *action {
        RuleAction::Stop => Decision::Done { rule: matched },
        RuleAction::Suppress => Decision::Suppress { rule: matched.unwrap_or(DEFAULT_RULE) },
        RuleAction::Retry { after: wait, max } => {
            let key = matched.unwrap_or(DEFAULT_RULE);
            let used = h.rule_retries.get(&key).copied().unwrap_or(0);
            if h.attempts_used >= policy.max_attempts {
                Decision::Exhausted { reason: format!("max_attempts {} reached", policy.max_attempts) }
            } else if used >= max {
                // Humans count rules from 1, as they appear in the config.
                let who = matched.map_or_else(|| "default action".to_string(), |i| format!("rule #{}", i + 1));
                Decision::Exhausted { reason: format!("{who} retried max {max} times") }
            } else {
                h.rule_retries.insert(key, used + 1);
                // The callee's own time beats the rule's interval: calling back
                // when asked is the point of a callback intent or a promise.
                match outcome.requested_at {
                    Some(at) => Decision::RetryAt {
                        not_before: callback_due(at, now, policy.max_callback_delay),
                        rule: matched,
                        requested: true,
                    },
                    None => Decision::RetryAt { not_before: after(now, wait), rule: matched, requested: false },
                }
            }
        }
    };
    (decision, h)
}

#[cfg(test)]
#[path = "recall_tests.rs"]
mod tests;

//! Frequency caps: how often one number (or one debt, `case`) may be dialed,
//! counted over every campaign and vendor, vendor-side redials included.
//!
//! Pure: the caller passes the dials it found (and the dials reserved by
//! attempts still in flight) and `now`; [`check_caps`] answers whether more
//! dials are allowed now and, if not, the earliest instant they will be.

use crate::domain::duration::parse_duration;
use chrono::{DateTime, TimeDelta, Utc};
use std::fmt;

/// What a cap counts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapScope {
    /// Dials of the same phone number.
    Phone,
    /// Dials about the same debt (`case_id`); a contact without a case id is
    /// counted by its phone number, the only identity it has.
    Case,
}

impl CapScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CapScope::Phone => "phone",
            CapScope::Case => "case",
        }
    }
}

/// One frequency rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrequencyRule {
    /// At most `max` dials in any rolling `period` (`phone:3/24h`).
    MaxDials { scope: CapScope, max: u32, period: TimeDelta },
    /// No dial for `period` after a conversation with the right party
    /// (`case:quiet/7d`, Regulation F's 7 days after a conversation).
    QuietAfterConversation { scope: CapScope, period: TimeDelta },
}

/// A cap spec that could not be read; `item` is the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    #[error("cap `{item}`: expected `<phone|case>:<max>/<period>` like phone:3/24h, or `<phone|case>:quiet/<period>`")]
    Shape { item: String },
    #[error("cap `{item}`: unknown scope `{scope}`, expected phone or case")]
    Scope { item: String, scope: String },
    #[error("cap `{item}`: max `{max}` must be a whole number of dials, at least 1")]
    Max { item: String, max: String },
    #[error("cap `{item}`: {detail}")]
    Period { item: String, detail: String },
}

impl FrequencyRule {
    pub fn scope(&self) -> CapScope {
        match self {
            FrequencyRule::MaxDials { scope, .. } | FrequencyRule::QuietAfterConversation { scope, .. } => *scope,
        }
    }

    /// How far back this rule needs to see dials.
    pub fn lookback(&self) -> TimeDelta {
        match self {
            FrequencyRule::MaxDials { period, .. } | FrequencyRule::QuietAfterConversation { period, .. } => *period,
        }
    }

    /// `phone:3/24h` | `case:7/7d` | `case:quiet/7d` (case-insensitive).
    pub fn parse(text: &str) -> Result<FrequencyRule, CapError> {
        let item = text.trim();
        let shape = || CapError::Shape { item: item.to_string() };
        let (scope, rest) = item.split_once(':').ok_or_else(shape)?;
        let (count, period) = rest.split_once('/').ok_or_else(shape)?;
        let scope = match scope.trim().to_ascii_lowercase().as_str() {
            "phone" => CapScope::Phone,
            "case" => CapScope::Case,
            other => return Err(CapError::Scope { item: item.to_string(), scope: other.to_string() }),
        };
        let period = parse_duration(period.trim())
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
            .filter(|d| *d > TimeDelta::zero())
            .ok_or_else(|| CapError::Period {
                item: item.to_string(),
                detail: format!("period `{}` is not a positive duration like 24h or 7d", period.trim()),
            })?;
        let count = count.trim();
        if count.eq_ignore_ascii_case("quiet") {
            return Ok(FrequencyRule::QuietAfterConversation { scope, period });
        }
        match count.parse::<u32>() {
            Ok(max) if max >= 1 => Ok(FrequencyRule::MaxDials { scope, max, period }),
            _ => Err(CapError::Max { item: item.to_string(), max: count.to_string() }),
        }
    }
}

/// A comma-separated list of rules; empty text is no rule.
pub fn parse_rules(text: &str) -> Result<Vec<FrequencyRule>, CapError> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(FrequencyRule::parse).collect()
}

/// The canonical text of a rule list, which [`parse_rules`] reads back.
pub fn rules_text(rules: &[FrequencyRule]) -> String {
    rules.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", ")
}

/// `7d`, `24h`, `90m`, `45s`: the largest unit that divides the period
/// evenly, except that whole days under a week read better as hours.
fn period_text(d: TimeDelta) -> String {
    let s = d.num_seconds();
    match s {
        _ if s % 86_400 == 0 && s >= 7 * 86_400 => format!("{}d", s / 86_400),
        _ if s % 3600 == 0 => format!("{}h", s / 3600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

impl fmt::Display for FrequencyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrequencyRule::MaxDials { scope, max, period } => {
                write!(f, "{}:{max}/{}", scope.as_str(), period_text(*period))
            }
            FrequencyRule::QuietAfterConversation { scope, period } => {
                write!(f, "{}:quiet/{}", scope.as_str(), period_text(*period))
            }
        }
    }
}

/// One dial (or a reservation for the dials an in-flight attempt may still
/// make) as the caps see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialRecord {
    pub at: DateTime<Utc>,
    /// How many dials this record stands for (1 for a dial; an in-flight
    /// attempt reserves 1 + the vendor redials it may make).
    pub dials: u32,
    /// A conversation with the right party took place on this dial.
    pub conversation: bool,
}

/// The dials a contact's caps count: those of its phone number and, when it
/// has a case id, those of its case (all campaigns, all vendors).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapHistory {
    pub phone: Vec<DialRecord>,
    /// None when the contact has no case id: case rules count `phone`.
    pub case: Option<Vec<DialRecord>>,
}

impl CapHistory {
    fn records(&self, scope: CapScope) -> &[DialRecord] {
        match (scope, &self.case) {
            (CapScope::Case, Some(case)) => case,
            _ => &self.phone,
        }
    }
}

/// Why more dials are not allowed now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapBlock {
    pub rule: FrequencyRule,
    /// The earliest instant the rule allows them; None = never (the dials
    /// asked for exceed the cap on their own).
    pub until: Option<DateTime<Utc>>,
    pub reason: String,
}

/// May `new_dials` more dials start at `now` under every rule? If not, the
/// block whose `until` is latest (never beats any instant): with no new dials
/// each rule's answer only gets better with time, so waiting for the latest
/// one satisfies all of them at once.
pub fn check_caps(
    rules: &[FrequencyRule],
    history: &CapHistory,
    new_dials: u32,
    now: DateTime<Utc>,
) -> Result<(), CapBlock> {
    let mut worst: Option<CapBlock> = None;
    for rule in rules {
        let Some(block) = check_rule(rule, history.records(rule.scope()), new_dials, now) else { continue };
        let later = match (&worst, block.until) {
            (None, _) => true,
            (Some(w), until) => match (w.until, until) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(a), Some(b)) => b > a,
            },
        };
        if later {
            worst = Some(block);
        }
    }
    worst.map_or(Ok(()), Err)
}

fn check_rule(rule: &FrequencyRule, records: &[DialRecord], new_dials: u32, now: DateTime<Utc>) -> Option<CapBlock> {
    match *rule {
        FrequencyRule::MaxDials { scope, max, period } => {
            let block =
                |until: Option<DateTime<Utc>>, reason: String| Some(CapBlock { rule: rule.clone(), until, reason });
            if new_dials > max {
                return block(None, format!("{rule}: an attempt may make {new_dials} dials, more than the cap allows"));
            }
            // Counted: every dial after now - period. Dials stamped after
            // `now` (reservations, vendor clocks ahead) count too.
            let mut counted: Vec<&DialRecord> = records.iter().filter(|r| r.at > now - period).collect();
            let used: u32 = counted.iter().map(|r| r.dials).sum();
            if used + new_dials <= max {
                return None;
            }
            // The oldest dials must age out until the rest leaves room.
            counted.sort_by_key(|r| r.at);
            let mut left = used;
            let mut until = now;
            for r in counted {
                if left + new_dials <= max {
                    break;
                }
                left -= r.dials;
                until = r.at + period;
            }
            block(
                Some(until.max(now)),
                format!("{rule}: {used} dial(s) of this {} in the last {}", scope.as_str(), period_text(period)),
            )
        }
        FrequencyRule::QuietAfterConversation { scope, period } => {
            let last = records.iter().filter(|r| r.conversation).map(|r| r.at).max()?;
            let until = last + period;
            (until > now).then(|| CapBlock {
                rule: rule.clone(),
                until: Some(until),
                reason: format!("{rule}: conversation about this {} at {last}", scope.as_str()),
            })
        }
    }
}

#[cfg(test)]
#[path = "caps_tests.rs"]
mod tests;

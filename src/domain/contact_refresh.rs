//! Scheduled contact refresh: which firing of a campaign's schedule is due,
//! and which contacts a refreshed list no longer has (docs/crm-refresh.md).
//!
//! The schedule is a 6-field cron expression with seconds
//! (`"0 30 7 * * Mon-Sat"`), read by the parser tokio-cron-scheduler uses,
//! with its settings (seconds required, day-of-month AND day-of-week), so the
//! firings decided here are the ones the scheduler wakes the daemon for. It
//! is evaluated in the campaign's zone: 07:30 means 07:30 where the debtors
//! live, across DST changes too.

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use std::collections::HashSet;
use std::time::Duration;

/// A parsed refresh schedule and the zone it runs in.
#[derive(Debug, Clone)]
pub struct RefreshSchedule {
    /// As written (the parser's own form spells days as numbers).
    text: String,
    cron: Cron,
    pub tz: Tz,
}

impl PartialEq for RefreshSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() && self.tz == other.tz
    }
}

impl RefreshSchedule {
    /// Read `text`; the error says why, for the config to name the field.
    pub fn parse(text: &str, tz: Tz) -> Result<RefreshSchedule, String> {
        let fields = text.split_whitespace().count();
        if fields != 6 && fields != 7 {
            return Err(format!(
                "`{text}` has {fields} field(s); a schedule has 6: second minute hour day-of-month month \
                 day-of-week (e.g. \"0 30 7 * * Mon-Sat\" is 07:30:00 Monday to Saturday)"
            ));
        }
        let cron = parser().parse(text).map_err(|e| format!("`{text}` is not a cron schedule: {e}"))?;
        Ok(RefreshSchedule { text: text.to_string(), cron, tz })
    }

    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The latest firing at or before `now`.
    pub fn latest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Firings fall on whole seconds; the search keeps a start's fraction.
        let local = now.trunc_subsecs(0).with_timezone(&self.tz);
        self.cron.find_previous_occurrence(&local, true).ok().map(|t| t.with_timezone(&Utc))
    }

    /// The first firing after `now`.
    pub fn next(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.trunc_subsecs(0).with_timezone(&self.tz);
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

/// The parser tokio-cron-scheduler's `Job::new_async_tz` uses.
fn parser() -> CronParser {
    CronParser::builder().seconds(Seconds::Required).dom_and_dow(true).build()
}

/// The firing a wake-up of the scheduler at `now` stands for: the latest
/// firing at or before it (the scheduler wakes at or just after the firing
/// time). Every instance woken for the same firing names the same time,
/// which is what makes the run row's unique key a lock.
pub fn firing_at_wakeup(schedule: &RefreshSchedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    schedule.latest(now)
}

/// At start-up: the firing missed while no daemon ran, to run once now. It
/// is the latest firing before `now`, if no run was recorded for it
/// (`last_run`: the latest recorded firing time) and it is no older than
/// `grace`. Older missed firings are not caught up: the next firing reads
/// the then-current list anyway.
pub fn missed_firing(
    schedule: &RefreshSchedule,
    now: DateTime<Utc>,
    grace: Duration,
    last_run: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let latest = schedule.latest(now)?;
    let age = (now - latest).to_std().unwrap_or_default();
    if age > grace || last_run.is_some_and(|t| t >= latest) {
        return None;
    }
    Some(latest)
}

/// Why a refresh ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A firing of the schedule.
    Schedule,
    /// A firing missed while no daemon ran, run at start-up within the grace.
    Missed,
    /// Asked for (`campaignd refresh now`).
    Manual,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Missed => "missed",
            Trigger::Manual => "manual",
        }
    }
}

/// What happens to a contact the source no longer lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRemoved {
    /// It is stopped and never dialed again (a debtor who paid).
    Stop,
    /// It stays as it is.
    Keep,
}

impl OnRemoved {
    pub fn parse(text: &str) -> Result<OnRemoved, String> {
        match text {
            "stop" => Ok(OnRemoved::Stop),
            "keep" => Ok(OnRemoved::Keep),
            other => Err(format!("`{other}` is not a policy: use \"stop\" or \"keep\"")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnRemoved::Stop => "stop",
            OnRemoved::Keep => "keep",
        }
    }
}

/// A contact of the campaign that is not final yet (pending, in flight or
/// waiting for a retry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenContact {
    pub id: i64,
    /// E.164, as the import stored it.
    pub phone: String,
}

/// Why nothing is stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemovalRefused {
    #[error(
        "the source has no valid row: nothing is stopped (an empty export is more likely a failed one \
         than a list with no debtors left)"
    )]
    EmptySource,
}

/// The contacts to stop: open contacts whose number the source no longer
/// lists. A contact is "in the source" by its E.164 number, as `import`
/// tells duplicates (one contact per number per campaign). A source with no
/// valid row stops nothing.
pub fn to_stop(
    policy: OnRemoved,
    open: &[OpenContact],
    in_source: &HashSet<String>,
) -> Result<Vec<i64>, RemovalRefused> {
    if policy == OnRemoved::Keep {
        return Ok(Vec::new());
    }
    if in_source.is_empty() {
        return Err(RemovalRefused::EmptySource);
    }
    Ok(open.iter().filter(|c| !in_source.contains(&c.phone)).map(|c| c.id).collect())
}

#[cfg(test)]
#[path = "contact_refresh_tests.rs"]
mod tests;

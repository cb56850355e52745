//! Randomized properties over the whole contact policy, 100,000 cases each:
//! - every dispatch instant lies inside every part of the intersection
//!   (campaign windows, legal profiles, holidays, all candidate zones, DST
//!   transitions) with the margin left, and no earlier instant was allowed;
//! - simulated campaigns sharing a number, with vendor-side redials, never
//!   exceed a frequency cap, and a capped contact's "allowed from" is the
//!   earliest instant the caps allow.

use super::caps::{CapScope, check_caps};
use super::*;
use crate::domain::window::CallingWindows;
use chrono::{NaiveDate, TimeZone};
use proptest::prelude::*;

/// 100,000 by default (what CI runs); `CAMPAIGND_PROP_CASES` lowers it for a
/// quick local run.
fn cases() -> u32 {
    std::env::var("CAMPAIGND_PROP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000)
}

/// Zones with DST in both hemispheres, half-hour and 45-minute offsets, and
/// zones without DST, to mix in candidate sets.
const ZONES: [Tz; 12] = [
    chrono_tz::America::New_York,
    chrono_tz::America::Chicago,
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::St_Johns,
    chrono_tz::America::Santiago,
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Pacific::Chatham,
    chrono_tz::Asia::Jakarta,
    chrono_tz::Asia::Kolkata,
];
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn spec(groups: &[(u8, u32, u32)]) -> String {
    let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let group = |&(mask, s, e): &(u8, u32, u32)| {
        let days: Vec<&str> = (0..7).filter(|d| mask & (1 << d) != 0).map(|d| DAY_NAMES[d]).collect();
        format!("{} {}-{}", days.join(","), hhmm(s), hhmm(e))
    };
    groups.iter().map(group).collect::<Vec<_>>().join("; ")
}

fn campaign_windows() -> impl Strategy<Value = String> {
    let minute = prop_oneof![3 => 0u32..1440, 1 => prop::sample::select(vec![0u32, 60, 120, 150, 180, 1260, 1380])];
    let group = (1u8..128, minute.clone(), minute).prop_filter("non-empty", |(_, s, e)| s != e);
    prop::collection::vec(group, 1..=2).prop_map(|g| spec(&g))
}

/// Instants in 2026-2027, half of them within two days of a DST change.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let transitions = vec![
        Utc.with_ymd_and_hms(2026, 3, 8, 7, 0, 0).unwrap(), // US spring forward
        Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(), // US fall back
        Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap(), // EU spring forward
        Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap(), // EU fall back
        Utc.with_ymd_and_hms(2026, 4, 4, 16, 0, 0).unwrap(), // Sydney fall back
        Utc.with_ymd_and_hms(2026, 10, 3, 16, 0, 0).unwrap(), // Sydney spring forward
        Utc.with_ymd_and_hms(2026, 4, 5, 3, 0, 0).unwrap(), // Santiago
        Utc.with_ymd_and_hms(2026, 9, 6, 4, 0, 0).unwrap(), // Santiago
    ];
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    prop_oneof![
        (0i64..2 * 365 * 86_400).prop_map(move |s| start + TimeDelta::seconds(s)),
        (prop::sample::select(transitions), -2 * 86_400i64..2 * 86_400).prop_map(|(t, s)| t + TimeDelta::seconds(s)),
    ]
}

/// Independent of `DialWindow`: every part open at `t`, and every part's own
/// close more than `margin` away.
fn oracle(parts: &[(CallingWindows, Tz)], margin: TimeDelta, t: DateTime<Utc>) -> bool {
    parts.iter().all(|(w, tz)| w.is_open(t, *tz) && w.current_close(t, *tz).is_none_or(|c| c - t > margin))
}

fn holidays(days: &[u16]) -> HolidayCalendar {
    let mut cal = HolidayCalendar::default();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    for d in days {
        cal.insert("ID", start + TimeDelta::days(i64::from(*d)));
    }
    cal
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn dispatch_instants_lie_inside_every_window(
        windows in campaign_windows(),
        profile_picks in prop::collection::vec(0usize..PROFILES.len(), 0..=2),
        zones in prop::collection::vec(prop::sample::select(ZONES.to_vec()), 1..=3),
        margin_s in prop_oneof![Just(0i64), Just(60), 0i64..600],
        holiday_days in prop::collection::vec(0u16..730, 0..20),
        from in instant(),
    ) {
        let settings = ComplianceSettings {
            dispatch_margin: TimeDelta::seconds(margin_s),
            holidays: Arc::new(holidays(&holiday_days)),
            ..ComplianceSettings::default()
        };
        let profiles: Vec<&Profile> = profile_picks.iter().map(|i| &PROFILES[*i]).collect();
        let policy = ContactPolicy::new(CallingWindows::parse(&windows).unwrap(), &profiles, &[], &settings);
        let dw = policy.dial_window(&zones);
        let margin = TimeDelta::seconds(margin_s);
        match dw.next_dispatch(from) {
            Some(t) => {
                prop_assert!(t >= from);
                prop_assert!(oracle(dw.parts(), margin, t), "dispatch at {t} outside a window: {windows} {zones:?}");
                prop_assert!(dw.can_dispatch(t));
                // No earlier instant was allowed: probe the gap evenly and just before t.
                let gap = (t - from).num_seconds();
                for k in 0..16 {
                    let probe = from + TimeDelta::seconds(gap * k / 16);
                    prop_assert!(probe >= t || !oracle(dw.parts(), margin, probe), "{probe} was allowed before {t}");
                }
                if t > from {
                    prop_assert!(!oracle(dw.parts(), margin, t - TimeDelta::seconds(1)));
                }
            }
            None => {
                for k in 0..64 {
                    let probe = from + TimeDelta::minutes(47 * k);
                    prop_assert!(!oracle(dw.parts(), margin, probe), "{probe} allowed, but no dispatch instant found");
                }
            }
        }
    }

    #[test]
    fn campaigns_sharing_a_number_never_exceed_the_caps(
        rules in prop::collection::vec(rule(), 1..=3),
        steps in prop::collection::vec((0usize..3, 0i64..8 * 3600, 0u32..=2, 1i64..7200, any::<bool>()), 1..=12),
        redial_budget in prop::collection::vec(0u32..=2, 3),
    ) {
        check_simulation(&rules, &steps, &redial_budget)?;
    }
}

fn rule() -> impl Strategy<Value = FrequencyRule> {
    let scope = prop::sample::select(vec![CapScope::Phone, CapScope::Case]);
    let period = prop::sample::select(vec![TimeDelta::hours(1), TimeDelta::hours(24), TimeDelta::days(7)]);
    prop_oneof![
        3 => (scope.clone(), 1u32..=5, period.clone()).prop_map(|(scope, max, period)| FrequencyRule::MaxDials { scope, max, period }),
        1 => (scope, period).prop_map(|(scope, period)| FrequencyRule::QuietAfterConversation { scope, period }),
    ]
}

/// An attempt in flight: where its reservation sits and how it will end.
struct InFlight {
    campaign: usize,
    started: DateTime<Utc>,
    ends: DateTime<Utc>,
    reserved: u32,
    actual: u32,
    conversation: bool,
}

/// Three campaigns share one number (and one case). At each step one of them
/// asks the gate; a dispatch reserves 1 + its vendor's redial budget and
/// completes later with up to that many real dials. Afterwards the real dials
/// are checked against the rules' plain definitions.
fn check_simulation(
    rules: &[FrequencyRule],
    steps: &[(usize, i64, u32, i64, bool)],
    redial_budget: &[u32],
) -> Result<(), TestCaseError> {
    let settings = ComplianceSettings { caps: rules.to_vec(), ..ComplianceSettings::default() };
    // Open 07:00-23:00 UTC: a window that closes keeps `close` cheap (an
    // always-open one is searched 400 days ahead on every call).
    let policy = ContactPolicy::new(CallingWindows::parse("daily 07:00-23:00").unwrap(), &[], &[], &settings);
    let window = policy.dial_window(&[chrono_tz::UTC]);
    let mut now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut dials: Vec<DialRecord> = Vec::new();
    let mut flying: Vec<InFlight> = Vec::new();
    for &(campaign, wait, redials, duration, talk) in steps {
        now += TimeDelta::seconds(wait);
        // Finished attempts turn their reservation into real dials, spread
        // over the call; a conversation happens on the last one.
        for f in flying.extract_if(.., |f| f.ends <= now) {
            for k in 0..f.actual {
                let at = f.started + (f.ends - f.started) * (k as i32) / (f.actual as i32);
                dials.push(DialRecord { at, dials: 1, conversation: f.conversation && k + 1 == f.actual });
            }
        }
        let mut history: Vec<DialRecord> = dials.clone();
        history.extend(flying.iter().map(|f| DialRecord { at: f.started, dials: f.reserved, conversation: false }));
        let reserved = 1 + redial_budget[campaign];
        let facts = ContactFacts {
            busy_in: flying.first().map(|f| format!("c{}", f.campaign)),
            history: CapHistory { phone: history.clone(), case: Some(history.clone()) },
            new_dials: reserved,
            ..ContactFacts::default()
        };
        match gate(&policy, &window, &facts, now) {
            Gate::Dispatch => {
                prop_assert!(flying.is_empty(), "dispatched while the number was in flight");
                prop_assert!(window.can_dispatch(now), "dispatched outside the window at {now}");
                let ends = now + TimeDelta::seconds(duration);
                let actual = 1 + redials.min(reserved - 1);
                flying.push(InFlight { campaign, started: now, ends, reserved, actual, conversation: talk });
            }
            Gate::Defer { until, wait: Wait::Cap, .. } => {
                // The earliest instant the caps allow (then the window's next
                // opening): allowed there, and not a second before the caps did.
                let allowed = check_caps(&policy.rules, &facts.history, reserved, now).unwrap_err().until.unwrap();
                prop_assert!(check_caps(&policy.rules, &facts.history, reserved, allowed).is_ok());
                prop_assert!(
                    check_caps(&policy.rules, &facts.history, reserved, allowed - TimeDelta::seconds(1)).is_err()
                );
                prop_assert_eq!(Some(until), window.next_dispatch(allowed));
            }
            _ => {}
        }
    }
    for f in flying {
        for k in 0..f.actual {
            let at = f.started + (f.ends - f.started) * (k as i32) / (f.actual as i32);
            dials.push(DialRecord { at, dials: 1, conversation: f.conversation && k + 1 == f.actual });
        }
    }
    for rule in rules {
        for d in &dials {
            match *rule {
                FrequencyRule::MaxDials { max, period, .. } => {
                    let count = dials.iter().filter(|x| x.at > d.at - period && x.at <= d.at).count();
                    prop_assert!(count as u32 <= max, "{count} dials in the {period} before {}: {rule}", d.at);
                }
                FrequencyRule::QuietAfterConversation { period, .. } => {
                    let early = dials.iter().any(|x| d.conversation && x.at > d.at && x.at < d.at + period);
                    prop_assert!(!early, "a dial within {period} after the conversation at {}", d.at);
                }
            }
        }
    }
    Ok(())
}

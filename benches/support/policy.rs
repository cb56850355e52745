//! The contact policy's pure decision on its own: how many `gate` answers
//! per second for a demanding contact (three candidate zones, two legal
//! profiles with holidays, four caps, a week of dials), across instants that
//! fall inside and outside the windows.

use super::report::{Report, dec, int};
use campaignd::domain::compliance::caps::parse_rules;
use campaignd::domain::compliance::profiles::parse_profiles;
use campaignd::domain::compliance::{CapHistory, ComplianceSettings, ContactFacts, ContactPolicy, DialRecord, gate};
use campaignd::domain::window::CallingWindows;
use chrono::{TimeDelta, TimeZone, Utc};
use std::time::Instant;

pub fn measure(decisions: u64, report: &mut Report) -> anyhow::Result<()> {
    let profiles = parse_profiles("us-reg-f, id-pojk-22-2023")?;
    let caps = parse_rules("phone:3/24h, phone:7/7d")?;
    let windows = CallingWindows::parse("mon-fri 09:00-12:00,14:00-20:00; sat 10:00-14:00")?;
    let policy = ContactPolicy::new(windows, &profiles, &caps, &ComplianceSettings::default());
    let zones = [chrono_tz::Asia::Jakarta, chrono_tz::Asia::Makassar, chrono_tz::Asia::Jayapura];
    let window = policy.dial_window(&zones);
    let start = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
    let dials: Vec<DialRecord> =
        (0..10).map(|i| DialRecord { at: start - TimeDelta::hours(17 * i), dials: 1, conversation: i == 9 }).collect();
    let facts = ContactFacts {
        history: CapHistory { phone: dials.clone(), case: Some(dials) },
        new_dials: 1,
        ..ContactFacts::default()
    };
    let (mut dispatch, began) = (0u64, Instant::now());
    for i in 0..decisions {
        // Instants spread over two weeks, 7 minutes apart.
        let now = start + TimeDelta::minutes(7 * (i % 2880) as i64);
        if gate(&policy, &window, &facts, now) == campaignd::domain::compliance::Gate::Dispatch {
            dispatch += 1;
        }
    }
    let elapsed = began.elapsed();
    report.add(
        format!("Contact policy decisions (gate), {} contacts", int(decisions as f64)),
        int(decisions as f64 / elapsed.as_secs_f64()),
        "decisions/s",
        format!(
            "3 candidate zones × (campaign + 2 profiles) windows, 4 caps over 10 dials; {} s; {} dispatchable",
            dec(elapsed.as_secs_f64()),
            int(dispatch as f64)
        ),
    );
    Ok(())
}

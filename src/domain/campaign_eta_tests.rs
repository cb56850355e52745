use super::*;
use crate::domain::window::CallingWindows;
use chrono::TimeZone;
use chrono_tz::Asia::Jakarta;

fn jakarta(d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Jakarta.with_ymd_and_hms(2026, 3, d, h, mi, 0).single().unwrap().with_timezone(&Utc)
}

/// Open 09:00-17:00 in Jakarta every day, no margin.
fn office_hours() -> DialWindow {
    DialWindow::new(vec![(CallingWindows::parse("daily 09:00-17:00").unwrap(), Jakarta)], TimeDelta::zero())
}

/// 60 attempts finished in the last 15 minutes: 4 a minute.
fn input<'a>(window: &'a DialWindow, now: DateTime<Utc>, min: u64, max: u64) -> EtaInput<'a> {
    EtaInput {
        state: CampaignState::Running,
        starts_at: None,
        work: OpenWork { min, max },
        finished_recently: 60,
        period: TimeDelta::minutes(15),
        cap: 10,
        window,
        now,
    }
}

#[test]
fn work_that_fits_in_the_open_window_ends_at_work_over_rate() {
    let w = office_hours();
    let now = jakarta(2, 10, 0);
    let eta = estimate(&input(&w, now, 40, 120));
    assert_eq!(eta.reason, None);
    assert_eq!(eta.at, Some(now + TimeDelta::minutes(30)), "120 attempts at 4 a minute");
    assert_eq!(eta.earliest, Some(now + TimeDelta::minutes(10)), "40 attempts at 4 a minute");
    assert_eq!(eta.attempts_per_hour, 240.0);
    assert_eq!(eta.waits_for_window_until, None, "open now");
}

#[test]
fn a_window_closing_before_the_work_is_done_moves_the_eta_past_the_next_opening() {
    let w = office_hours();
    // 16:30: 30 minutes (120 attempts) left today; 200 attempts need 50 minutes.
    let eta = estimate(&input(&w, jakarta(2, 16, 30), 100, 200));
    assert_eq!(eta.at, Some(jakarta(3, 9, 20)), "the remaining 80 attempts the next morning");
    assert_eq!(eta.earliest, Some(jakarta(2, 16, 55)));
}

#[test]
fn a_closed_window_is_waited_for_and_said_so() {
    let w = office_hours();
    let eta = estimate(&input(&w, jakarta(2, 20, 0), 4, 4));
    assert_eq!(eta.waits_for_window_until, Some(jakarta(3, 9, 0)));
    assert_eq!(eta.at, Some(jakarta(3, 9, 1)));
}

#[test]
fn work_spanning_several_days_skips_every_night() {
    let w = office_hours();
    // 8 h a day at 4 a minute = 1920 attempts a day; 4000 = two days and 160 more.
    let eta = estimate(&input(&w, jakarta(2, 9, 0), 4000, 4000));
    assert_eq!(eta.at, Some(jakarta(4, 9, 40)));
}

#[test]
fn the_dispatch_margin_shortens_each_open_stretch() {
    let w =
        DialWindow::new(vec![(CallingWindows::parse("daily 09:00-17:00").unwrap(), Jakarta)], TimeDelta::minutes(10));
    // Dispatch stops at 16:50: 20 minutes (80 attempts) left from 16:30.
    let eta = estimate(&input(&w, jakarta(2, 16, 30), 100, 100));
    assert_eq!(eta.at, Some(jakarta(3, 9, 5)));
}

#[test]
fn a_campaign_that_has_not_started_is_estimated_from_its_start() {
    let w = office_hours();
    let mut i = input(&w, jakarta(2, 10, 0), 4, 4);
    i.starts_at = Some(jakarta(5, 12, 0));
    let eta = estimate(&i);
    assert_eq!(eta.at, Some(jakarta(5, 12, 1)));
    assert_eq!(eta.waits_for_window_until, Some(jakarta(5, 12, 0)));
}

#[test]
fn no_rate_means_no_estimate() {
    let w = office_hours();
    let mut i = input(&w, jakarta(2, 10, 0), 4, 8);
    i.finished_recently = 0;
    let eta = estimate(&i);
    assert_eq!((eta.at, eta.earliest, eta.reason), (None, None, Some(EtaReason::NoRateYet)));
    assert_eq!(eta.open_work, OpenWork { min: 4, max: 8 });
}

#[test]
fn a_finished_campaign_is_done_now() {
    let w = office_hours();
    let now = jakarta(2, 20, 0);
    let eta = estimate(&input(&w, now, 0, 0));
    assert_eq!((eta.at, eta.reason), (Some(now), Some(EtaReason::Finished)));
    let mut done = input(&w, now, 5, 5);
    done.state = CampaignState::Completed;
    assert_eq!(estimate(&done).at, Some(now));
}

#[test]
fn paused_drafts_and_capless_campaigns_have_no_estimate() {
    let w = office_hours();
    let now = jakarta(2, 10, 0);
    for (state, reason) in [(CampaignState::Paused, EtaReason::Paused), (CampaignState::Draft, EtaReason::Draft)] {
        let mut i = input(&w, now, 4, 4);
        i.state = state;
        assert_eq!((estimate(&i).at, estimate(&i).reason), (None, Some(reason)));
    }
    let mut i = input(&w, now, 4, 4);
    i.cap = 0;
    assert_eq!(estimate(&i).reason, Some(EtaReason::NoCapacity));
}

#[test]
fn work_past_the_campaigns_end_has_no_estimate() {
    let w = office_hours().ending_at(Some(jakarta(3, 12, 0)));
    // 16:00 today: 1 h (240) today, 3 h (720) tomorrow, then the end.
    let eta = estimate(&input(&w, jakarta(2, 16, 0), 900, 1000));
    assert_eq!((eta.at, eta.reason), (None, Some(EtaReason::WindowNeverOpens)));
    assert_eq!(eta.earliest, Some(jakarta(3, 11, 45)), "900 fits before the end");
    let closed = office_hours().ending_at(Some(jakarta(2, 9, 0)));
    assert_eq!(estimate(&input(&closed, jakarta(2, 16, 0), 1, 1)).reason, Some(EtaReason::WindowNeverOpens));
}

#[test]
fn an_always_open_window_spends_the_work_without_a_break() {
    let w = DialWindow::new(vec![(CallingWindows::always(), Jakarta)], TimeDelta::zero());
    let now = jakarta(2, 23, 30);
    assert_eq!(estimate(&input(&w, now, 0, 400)).at, Some(now + TimeDelta::minutes(100)));
}

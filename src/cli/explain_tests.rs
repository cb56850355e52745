use super::*;
use crate::store::explain::{
    AttemptInfo, CampaignInfo, ContactInfo, DecisionInfo, DialInfo, Explanation, SuppressionInfo,
};
use chrono::TimeZone;

fn t(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap()
}

fn decision(id: i64, at: DateTime<Utc>, scope: &'static str, kind: &str, reason: &str) -> DecisionInfo {
    DecisionInfo {
        id,
        at,
        scope,
        kind: kind.into(),
        reason: reason.into(),
        attempt_no: None,
        next_at: None,
        zones: None,
        detail: None,
    }
}

fn sample() -> Explanation {
    let mut deferred = decision(1, t(0, 30), "group", "deferred", "window closed for zones Asia/Jakarta");
    deferred.zones = Some("Asia/Jakarta".into());
    deferred.next_at = Some(t(2, 0));
    let mut dispatched = decision(2, t(2, 0), "contact", "dispatched", "window open, caps free");
    dispatched.attempt_no = Some(1);
    Explanation {
        campaign: CampaignInfo { name: "demo".into(), state: "running".into(), timezone: "Asia/Jakarta".into() },
        contact: ContactInfo {
            id: 7,
            phone: "+6281234567890".into(),
            case_id: Some("CASE-7".into()),
            state: "suppressed".into(),
            attempt_seq: 1,
            due_at: None,
            timezone: None,
            zones: Some("Asia/Jakarta".into()),
            zone_source: Some("country".into()),
            finished_reason: Some("suppress after answered/complaint".into()),
            last_disposition: Some("answered".into()),
            last_intent: Some("complaint".into()),
            last_raw_code: Some("sim:ANSWERED".into()),
            created_at: t(0, 0),
            updated_at: t(2, 5),
        },
        local_timezone: "Asia/Jakarta".into(),
        suppression: Some(SuppressionInfo {
            reason: "complaint".into(),
            source: "campaign:demo".into(),
            created_at: t(2, 5),
            expires_at: None,
            active: true,
        }),
        decisions: vec![deferred, dispatched],
        decisions_truncated: false,
        attempts: vec![AttemptInfo {
            attempt_no: 1,
            vendor_id: "sim-a".into(),
            state: "completed".into(),
            disposition: Some("answered".into()),
            intent: Some("complaint".into()),
            raw_code: Some("sim:ANSWERED".into()),
            raw_intent: Some("COMPLAINT".into()),
            error: None,
            created_at: t(2, 0),
            dispatched_at: Some(t(2, 0)),
            completed_at: Some(t(2, 5)),
            duration_ms: Some(30_000),
            recording_url: None,
            transcript: None,
            ring_ms: None,
            vendor_ended_at: None,
            received_at: None,
            cost: None,
            cost_currency: None,
        }],
        recent_dials: vec![DialInfo {
            campaign: "other".into(),
            vendor_id: "sim-b".into(),
            dialed_at: t(1, 0),
            disposition: "no_answer".into(),
            intent: None,
            raw_code: None,
            vendor_redial: true,
        }],
        dials_since: t(0, 0) - chrono::Duration::days(7),
        rejected_records: Vec::new(),
    }
}

#[test]
fn the_text_trail_shows_local_and_utc_times_one_line_per_decision() {
    let text = render_text(&sample());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "campaign demo (running), contact +6281234567890 case CASE-7");
    assert!(text.contains("suppression: ACTIVE — complaint (source campaign:demo)"), "{text}");
    assert!(text.contains("never expires"), "{text}");
    let decisions: Vec<&&str> =
        lines.iter().skip_while(|l| **l != "decisions:").skip(1).take_while(|l| !l.is_empty()).collect();
    assert_eq!(decisions.len(), 2, "{text}");
    // 00:30 UTC is 07:30 in Jakarta (WIB, UTC+7).
    assert!(decisions[0].starts_with("  2026-06-01 07:30:00 WIB (00:30:00Z)  deferred"), "{}", decisions[0]);
    assert!(decisions[0].contains("[group Asia/Jakarta]"), "{}", decisions[0]);
    assert!(decisions[0].ends_with("→ next 2026-06-01 09:00:00 WIB (02:00:00Z)"), "{}", decisions[0]);
    assert!(decisions[1].contains("dispatched #1 window open, caps free"), "{}", decisions[1]);
    assert!(text.contains("  #1 sim-a completed: answered / complaint (raw sim:ANSWERED)"), "{text}");
    assert!(text.contains("other via sim-b: no_answer / - (vendor redial)"), "{text}");
}

#[test]
fn a_campaign_zone_group_and_an_empty_trail_read_plainly() {
    let mut e = sample();
    e.decisions[0].zones = Some(String::new());
    e.suppression = None;
    let text = render_text(&e);
    assert!(text.contains("[campaign-zone group]"), "{text}");
    assert!(text.contains("suppression: not listed"), "{text}");
    e.decisions.clear();
    e.attempts.clear();
    e.recent_dials.clear();
    let text = render_text(&e);
    assert!(text.contains("decisions:\n  none recorded\n"), "{text}");
    assert!(text.contains("attempts:\n  none\n"), "{text}");
}

#[test]
fn utc_shows_its_date_when_it_differs_from_the_local_one() {
    // 20:00 UTC on June 1 is 03:00 on June 2 in Jakarta.
    let at = Utc.with_ymd_and_hms(2026, 6, 1, 20, 0, 0).unwrap();
    assert_eq!(when(at, chrono_tz::Asia::Jakarta), "2026-06-02 03:00:00 WIB (06-01 20:00:00Z)");
}

#[test]
fn rejected_vendor_records_about_the_number_are_on_its_trail() {
    let mut e = sample();
    let text = render_text(&e);
    assert!(!text.contains("could not be read"), "{text}");
    e.rejected_records.push(crate::store::explain::RejectedRecordInfo {
        vendor_id: "laaffic-1".into(),
        source: "callback".into(),
        inbox_id: Some(42),
        record_index: 2,
        reason: "intent: expected a code (string or number), got an array".into(),
        received_at: t(1, 0),
        raw: r#"{"callee":"6281234567890","intent":["205"]}"#.into(),
    });
    let text = render_text(&e);
    assert!(text.contains("could not be read"), "{text}");
    assert!(text.contains("laaffic-1 inbox #42 record 2: intent: expected a code"), "{text}");
    assert!(text.contains(r#""intent":["205"]"#), "{text}");
}

#[test]
fn an_attempts_recording_transcript_ring_lag_and_cost_are_shown() {
    let mut e = sample();
    let plain = render_text(&e);
    assert!(!plain.contains("recording:") && !plain.contains("cost "), "{plain}");
    let a = &mut e.attempts[0];
    a.recording_url = Some("https://audio.example/1.wav".into());
    a.transcript = Some("ROBOT: Hello\nPERSON: Yes".into());
    a.ring_ms = Some(4_500);
    a.vendor_ended_at = Some(t(2, 5));
    a.received_at = Some(t(2, 5) + chrono::Duration::seconds(3));
    a.cost = Some("0.0123".into());
    a.cost_currency = Some("USD".into());
    let text = render_text(&e);
    assert!(text.contains("      rang 4.5s, result 3.0s after the call's end, cost 0.0123 USD\n"), "{text}");
    assert!(text.contains("      recording: https://audio.example/1.wav\n"), "{text}");
    assert!(text.contains("      transcript:\n        ROBOT: Hello\n        PERSON: Yes\n"), "{text}");
}

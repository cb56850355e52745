use super::*;

fn recall(table: &str) -> RecallConfig {
    toml::from_str(table).expect("recall table")
}

#[test]
fn max_callback_delay_defaults_to_two_weeks_and_reads_human_durations() {
    let default = recall_policy(&recall("max_attempts = 2")).unwrap();
    assert_eq!(default.max_callback_delay, Duration::from_secs(14 * 86_400));
    let set = recall_policy(&recall(r#"max_callback_delay = "3d""#)).unwrap();
    assert_eq!(set.max_callback_delay, Duration::from_secs(3 * 86_400));
}

#[test]
fn bad_max_callback_delay_is_named_beside_other_problems() {
    let errors = recall_policy(&recall("max_attempts = 0\nmax_callback_delay = \"soon\"")).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(fields, ["max_attempts", "max_callback_delay"], "{errors:?}");
    assert!(errors[1].1.contains("soon"), "{errors:?}");
}

#[test]
fn stored_policies_without_max_callback_delay_still_load() {
    // Campaign rows written before the field existed carry no key for it.
    let old: RecallConfig = serde_json::from_str(r#"{"max_attempts":3,"rules":[],"default":null}"#).unwrap();
    assert_eq!(recall_policy(&old).unwrap().max_callback_delay, Duration::from_secs(14 * 86_400));
}

const VENDOR_AND_CAMPAIGN: &str = r#"
[[vendors]]
id = "sim"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "k"
callback_secret = "s"

[[campaigns]]
name = "c"
timezone = "Asia/Jakarta"
windows = "daily 09:00-20:00"
vendors = ["sim"]
"#;

fn settings(extra_campaign: &str, compliance: &str) -> Result<Settings, ConfigError> {
    let text = format!("{compliance}\n{VENDOR_AND_CAMPAIGN}{extra_campaign}\n");
    parse(&text, Path::new("test.toml"), Path::new("."))
}

#[test]
fn compliance_settings_and_campaign_profiles_and_caps_are_read() {
    let s = settings(
        "profiles = [\"id-pojk-22-2023\", \"us-reg-f\"]\ncaps = [\"phone:2/24h\"]",
        "[compliance]\ndispatch_margin = \"2m\"\nbusy_backoff = \"30s\"\ncaps = [\"phone:7/7d, case:quiet/7d\"]",
    )
    .unwrap();
    assert_eq!(s.compliance.dispatch_margin, TimeDelta::minutes(2));
    assert_eq!(s.compliance.busy_backoff, TimeDelta::seconds(30));
    assert_eq!(crate::domain::compliance::caps::rules_text(&s.compliance.caps), "phone:7/7d, case:quiet/7d");
    let c = &s.campaigns[0];
    assert_eq!(c.profiles.iter().map(|p| p.name).collect::<Vec<_>>(), ["id-pojk-22-2023", "us-reg-f"]);
    assert_eq!(crate::domain::compliance::caps::rules_text(&c.caps), "phone:2/24h");
    assert!(s.compliance.holidays.is_holiday("ID", NaiveDate::from_ymd_opt(2026, 8, 17).unwrap()).is_some());
    // Defaults: a one-minute margin, no deployment caps.
    let d = settings("", "").unwrap();
    assert_eq!(d.compliance.dispatch_margin, TimeDelta::minutes(1));
    assert!(d.compliance.caps.is_empty());
}

#[test]
fn bad_profiles_caps_and_holiday_files_are_named_with_their_lines() {
    let err = settings(
        "profiles = [\"us-fdcpa\"]\ncaps = [\"phone:3/24h\", \"sms:3/24h\"]",
        "[compliance]\ncaps = [\"phone:0/1d\"]\nholiday_files = [\"/nonexistent/holidays.csv\"]",
    )
    .unwrap_err()
    .to_string();
    for needle in [
        "compliance.caps[0]: cap `phone:0/1d`: max `0`",
        "line 2:",
        "compliance.holiday_files",
        "/nonexistent/holidays.csv",
        "campaigns[0].profiles[0]",
        "unknown legal profile `us-fdcpa`: expected one of us-tcpa, us-reg-f",
        "campaigns[0].caps[1]: cap `sms:3/24h`: unknown scope `sms`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
}

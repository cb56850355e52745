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
    parse(&text, Path::new("test.toml"), Path::new("."), &NoVendorChecks)
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

#[test]
fn recall_errors_point_at_the_line_of_their_own_rule() {
    // Line 15 onwards: the second and third rules are wrong, each on its own lines.
    let recall = r#"
[campaigns.recall]
max_attempts = 3
vendor_failure_backoff = "later"

[[campaigns.recall.rules]]
when = ["busy"]
retry_after = "5m"

[[campaigns.recall.rules]]
when = ["bussy"]
retry_after = "5m"

[[campaigns.recall.rules]]
when = ["no_answer"]
action = "dial-again"

[campaigns.recall.default]
when = ["busy"]
action = "stop"
"#;
    let text = format!("{VENDOR_AND_CAMPAIGN}{recall}");
    let line_of = |needle: &str| text.lines().position(|l| l == needle).map(|i| i + 1).unwrap();
    let rule_lines: Vec<usize> =
        text.lines().enumerate().filter(|(_, l)| *l == "[[campaigns.recall.rules]]").map(|(i, _)| i + 1).collect();
    let Err(ConfigError::Invalid { issues, .. }) = parse(&text, Path::new("t.toml"), Path::new("."), &NoVendorChecks)
    else {
        panic!("the recall table is invalid")
    };
    let at = |path: &str| issues.iter().find(|i| i.path == path).and_then(|i| i.line);
    assert_eq!(at("campaigns[0].recall.rules[1].when[0]"), Some(rule_lines[1]), "{issues:#?}");
    assert_eq!(at("campaigns[0].recall.rules[2].action"), Some(rule_lines[2]), "{issues:#?}");
    assert_eq!(at("campaigns[0].recall.default.when"), Some(line_of("[campaigns.recall.default]")), "{issues:#?}");
    assert_eq!(
        at("campaigns[0].recall.vendor_failure_backoff"),
        Some(line_of("vendor_failure_backoff = \"later\"")),
        "{issues:#?}"
    );
    assert_eq!(issues.len(), 4, "{issues:#?}");
}

#[test]
fn contacts_file_must_open_and_have_a_phone_column_named_as_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let with_file = |name: &str| format!("{VENDOR_AND_CAMPAIGN}contacts_file = \"{name}\"\n");
    let err =
        parse(&with_file("missing.csv"), Path::new("t.toml"), dir.path(), &NoVendorChecks).unwrap_err().to_string();
    let resolved = dir.path().join("missing.csv");
    let expected = format!(
        "line 14: campaigns[0].contacts_file: `missing.csv` (resolved from the config file's directory to {}): \
         cannot be opened: No such file or directory (os error 2)",
        resolved.display()
    );
    assert!(err.contains(&expected), "missing `{expected}` in:\n{err}");
    std::fs::write(dir.path().join("numbers.csv"), "msisdn,name\n+6281200000001,A\n").unwrap();
    let err =
        parse(&with_file("numbers.csv"), Path::new("t.toml"), dir.path(), &NoVendorChecks).unwrap_err().to_string();
    assert!(
        err.contains("contacts_file: `numbers.csv`") && err.contains("no `phone` column (found: msisdn, name)"),
        "{err}"
    );
    std::fs::write(dir.path().join("good.csv"), "phone\n+6281200000001\n").unwrap();
    let ok = parse(&with_file("good.csv"), Path::new("t.toml"), dir.path(), &NoVendorChecks).unwrap();
    assert_eq!(ok.campaigns[0].contacts_file.as_deref(), Some(dir.path().join("good.csv").as_path()));
}

#[test]
fn log_format_is_read_and_a_bad_one_is_named_with_its_line() {
    assert_eq!(settings("", "").unwrap().log_format, crate::logging::LogFormat::Text);
    assert_eq!(settings("", "log_format = \"json\"").unwrap().log_format, crate::logging::LogFormat::Json);
    let err = settings("", "\nlog_format = \"xml\"").unwrap_err().to_string();
    assert!(
        err.contains("line 2: log_format: unknown log format `xml` (expected one of: text, json, journald)"),
        "{err}"
    );
}

#[test]
fn price_per_minute_and_currency_are_read_and_bad_ones_named_with_their_lines() {
    let vendor = |extra: &str| {
        VENDOR_AND_CAMPAIGN.replace("callback_secret = \"s\"\n", &format!("callback_secret = \"s\"\n{extra}"))
    };
    let read = |extra: &str| parse(&vendor(extra), Path::new("t.toml"), Path::new("."), &NoVendorChecks);
    let plain = read("").unwrap();
    assert_eq!((plain.vendors[0].currency.as_str(), plain.vendors[0].pricing.as_ref()), ("USD", None));
    let priced = read("price_per_minute = \"0.012\"\ncurrency = \"EUR\"\n").unwrap();
    let pricing = priced.vendors[0].pricing.clone().unwrap();
    assert_eq!((pricing.micros_per_minute, pricing.currency.as_str()), (12_000, "EUR"));
    for (extra, expected) in [
        ("price_per_minute = \"cheap\"\n", "line 8: vendors[0].price_per_minute: `cheap` is not a decimal amount"),
        ("price_per_minute = \"-1\"\n", "line 8: vendors[0].price_per_minute: must not be negative"),
        (
            "price_per_minute = \"0.0000001\"\n",
            "line 8: vendors[0].price_per_minute: `0.0000001` has more than 6 decimals",
        ),
        ("currency = \"dollars\"\n", "line 8: vendors[0].currency: `dollars` is not an ISO 4217 code like USD"),
    ] {
        let err = read(extra).unwrap_err().to_string();
        assert!(err.contains(expected), "{extra}: {err}");
    }
}

#[test]
fn forwarding_is_global_unless_a_campaign_has_its_own_block() {
    let global = "[forwarding]\nurl = \"https://crm.example/hooks\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
                  events = [\"contact.final\", \"attempt.completed\"]\nmax_age = \"2h\"";
    let s = settings("", global).unwrap();
    let t = s.forwarding.target("c").expect("the global target");
    assert_eq!(t.url, "https://crm.example/hooks");
    assert_eq!(t.retry.max_age, Duration::from_secs(7200));
    assert_eq!(t.timeout, Duration::from_secs(10), "default timeout");
    assert!(t.events.contact_final && t.events.attempt_completed);
    assert_eq!(s.compliance.forwarding.events_for("c"), t.events, "campaigns read which events they write");
    assert!(!format!("{t:?}").contains("MfKQ9r8"), "the secret never prints");

    let off = settings("[campaigns.forwarding]\nenabled = false", global).unwrap();
    assert!(off.forwarding.target("c").is_none());
    assert!(off.compliance.forwarding.events_for("c").is_empty());
    assert!(off.forwarding.target("another").is_some(), "others keep the global block");

    let own = settings("[campaigns.forwarding]\nurl = \"http://127.0.0.1:9/h\"\nsecret = \"plain\"", "").unwrap();
    let t = own.forwarding.target("c").unwrap();
    assert_eq!(
        (t.url.as_str(), t.events.contact_final, t.events.attempt_completed),
        ("http://127.0.0.1:9/h", true, false)
    );
    assert!(own.forwarding.target("another").is_none(), "no global block");
}

#[test]
fn bad_forwarding_settings_are_named_by_field() {
    let bad = "[forwarding]\nurl = \"ftp://crm.example\"\nsecret = \"whsec_***\"\nevents = [\"contact.done\"]\n\
               backoff_base = \"10m\"\nbackoff_cap = \"1m\"\ntimeout = \"soon\"";
    let err = settings("[campaigns.forwarding]\nsecret = \"\"", bad).unwrap_err().to_string();
    for needle in [
        "line 2: forwarding.url: scheme `ftp` is not http or https",
        "line 3: forwarding.secret: a `whsec_` secret must be base64",
        "line 4: forwarding.events[0]: ",
        "contact.done",
        "forwarding.timeout:",
        "forwarding.backoff_cap: 60s is shorter than backoff_base (600s)",
        "campaigns[0].forwarding.url: is required",
        "campaigns[0].forwarding.secret:",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    let no_secret = settings("", "[forwarding]\nurl = \"https://crm.example\"").unwrap_err().to_string();
    assert!(no_secret.contains("forwarding.secret: is required"), "{no_secret}");
}

use super::*;

fn vendors() -> BTreeSet<String> {
    ["sim".to_string(), "sim-b".to_string()].into()
}

fn definition(json: serde_json::Value) -> CampaignDefinition {
    serde_json::from_value(json).expect("definition JSON")
}

fn fields(result: Result<CampaignSettings, Vec<FieldIssue>>) -> Vec<String> {
    result.expect_err("refused").into_iter().map(|i| i.field).collect()
}

#[test]
fn a_json_definition_gives_the_settings_a_toml_table_would() {
    let def = definition(serde_json::json!({
        "name": " c ", "timezone": "Asia/Jakarta", "windows": "daily 09:00-20:00",
        "vendors": ["sim", {"id": "sim-b", "weight": 3}], "blackout_dates": ["2026-12-25"],
        "recall": {"max_attempts": 2}, "redial_strategy": "rotate", "caps": ["phone:2/24h"],
    }));
    let c = validate(&def, &vendors()).unwrap();
    assert_eq!(c.name, "c");
    assert_eq!(c.vendors, [("sim".to_string(), 1), ("sim-b".to_string(), 3)]);
    assert_eq!(c.recall_policy.max_attempts, 2);
    assert_eq!(c.redial_strategy, RedialStrategy::Rotate);
    assert_eq!(c.max_concurrency, 10, "the config default");
    assert_eq!(c.caps.len(), 1);
    assert_eq!(c.blackout_dates, [NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]);
}

#[test]
fn every_bad_field_is_named_below_the_campaign() {
    let def = definition(serde_json::json!({
        "name": "c", "timezone": "Mars/Olympus", "windows": "daily 09:00-20:00",
        "vendors": ["sim", "nope"], "recall": {"max_attempts": 0}, "max_concurrency": 2_000_000,
        "starts_at": "2026-12-02T00:00:00Z", "ends_at": "2026-12-01T00:00:00Z", "profiles": ["xx"],
    }));
    assert_eq!(
        fields(validate(&def, &vendors())),
        ["timezone", "ends_at", "max_concurrency", "vendors[1]", "recall.max_attempts", "profiles[0]"]
    );
    let issues = validate(&def, &vendors()).unwrap_err();
    assert!(issues[3].message.contains("no vendor with id `nope`"), "{issues:?}");
}

#[test]
fn fingerprint_follows_every_change_of_the_definition() {
    let def = definition(serde_json::json!({
        "name": "c", "timezone": "Asia/Jakarta", "windows": "daily 09:00-20:00", "vendors": ["sim"],
    }));
    assert_eq!(fingerprint(&def), fingerprint(&def.clone()));
    let changed = CampaignDefinition { max_concurrency: Some(3), ..def.clone() };
    assert_ne!(fingerprint(&def), fingerprint(&changed));
    assert!(fingerprint(&def).starts_with('"') && fingerprint(&def).ends_with('"'), "a quoted ETag");
}

#[test]
fn contacts_file_is_not_a_field_of_an_api_definition() {
    let err = serde_json::from_value::<CampaignDefinition>(serde_json::json!({
        "name": "c", "timezone": "UTC", "windows": "daily 09:00-20:00", "vendors": ["sim"],
        "contacts_file": "/etc/passwd",
    }))
    .unwrap_err();
    assert!(err.to_string().contains("unknown field `contacts_file`"), "{err}");
}

#[test]
fn config_toml_and_a_json_body_are_refused_for_the_same_fields_toml_with_lines() {
    let toml = r#"
[[vendors]]
id = "sim"
kind = "sim"
base_url = "http://127.0.0.1:9"

[[campaigns]]
name = "c"
timezone = "Mars/Olympus"
windows = "daily 09:00-20:00"
blackout_dates = ["2026-12-25", "someday"]
vendors = ["sim", "nope"]
max_concurrency = 2000000

[campaigns.recall]
max_attempts = 0
"#;
    let parsed = crate::config::validate::parse(
        toml,
        std::path::Path::new("t.toml"),
        std::path::Path::new("."),
        &crate::config::validate::NoVendorChecks,
    );
    let Err(crate::config::ConfigError::Invalid { issues, .. }) = parsed else { panic!("accepted") };
    let from_toml: Vec<(String, Option<usize>)> = issues.iter().map(|i| (i.path.clone(), i.line)).collect();
    assert_eq!(
        from_toml,
        [
            ("campaigns[0].timezone".to_string(), Some(9)),
            ("campaigns[0].blackout_dates[1]".to_string(), Some(11)),
            // A plain integer has no span: the campaign's `name` line.
            ("campaigns[0].max_concurrency".to_string(), Some(8)),
            ("campaigns[0].vendors[1]".to_string(), Some(12)),
            ("campaigns[0].recall.max_attempts".to_string(), Some(16)),
        ]
    );
    let json = definition(serde_json::json!({
        "name": "c", "timezone": "Mars/Olympus", "windows": "daily 09:00-20:00",
        "blackout_dates": ["2026-12-25", "someday"], "vendors": ["sim", "nope"], "max_concurrency": 2_000_000,
        "recall": {"max_attempts": 0},
    }));
    let from_json: Vec<String> =
        fields(validate(&json, &["sim".to_string()].into())).into_iter().map(|f| format!("campaigns[0].{f}")).collect();
    assert_eq!(from_json, from_toml.into_iter().map(|(path, _)| path).collect::<Vec<_>>());
}

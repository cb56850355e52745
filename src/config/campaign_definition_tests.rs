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

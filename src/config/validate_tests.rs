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

use super::*;

fn refused_fields(body: &str) -> Vec<FieldIssue> {
    match parse_definition(body.as_bytes()) {
        Err(Refusal::Invalid(fields)) => fields,
        Err(Refusal::Api(ApiError(status, text))) => panic!("{status}: {text}"),
        Ok(def) => panic!("accepted: {def:?}"),
    }
}

#[test]
fn a_value_of_the_wrong_type_is_named_by_its_path() {
    let fields = refused_fields(
        r#"{"name":"c","timezone":"UTC","windows":"daily 09:00-17:00","vendors":["sim"],"recall":{"max_attempts":"x"}}"#,
    );
    assert_eq!(fields[0].field, "recall.max_attempts", "{fields:?}");
    let fields = refused_fields(r#"{"name":"c","timezone":"UTC","windows":"daily 09:00-17:00","vendors":[7]}"#);
    assert_eq!(fields[0].field, "vendors[0]", "{fields:?}");
}

#[test]
fn a_missing_or_unknown_key_is_named_itself() {
    let fields = refused_fields(r#"{"name":"c","windows":"daily 09:00-17:00","vendors":["sim"]}"#);
    assert_eq!(fields[0].field, "timezone", "{fields:?}");
    let fields = refused_fields(
        r#"{"name":"c","timezone":"UTC","windows":"daily 09:00-17:00","vendors":["sim"],"recall":{"tries":3}}"#,
    );
    assert_eq!(fields[0].field, "recall.tries", "{fields:?}");
}

#[test]
fn text_that_is_not_json_is_a_400_not_a_field_error() {
    let trailing = r#"{"name":"c","timezone":"UTC","windows":"daily 09:00-17:00","vendors":["sim"]} x"#;
    for body in ["{", "nope", "{\"name\": ", trailing, ""] {
        match parse_definition(body.as_bytes()) {
            Err(Refusal::Api(ApiError(status, _))) => assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}"),
            Err(Refusal::Invalid(f)) => panic!("{body:?} refused as fields {f:?}"),
            Ok(_) => panic!("{body:?} accepted"),
        }
    }
}

#[test]
fn if_match_accepts_its_etag_a_list_holding_it_or_a_star() {
    let etag = "\"abc\"";
    assert!(if_match_allows("\"abc\"", etag));
    assert!(if_match_allows("\"x\", \"abc\"", etag));
    assert!(if_match_allows("*", etag));
    assert!(!if_match_allows("\"abd\"", etag));
    assert!(!if_match_allows("abc", etag), "an ETag is quoted");
}

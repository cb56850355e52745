use super::*;

/// Read an entry back by the protocol's rules (not by [`field`]'s code):
/// `NAME=value` lines, or `NAME`, newline, 64-bit little-endian length,
/// value, newline.
fn parse(mut bytes: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let end = bytes.iter().position(|b| *b == b'\n').expect("a field ends with a newline");
        let line = &bytes[..end];
        match line.iter().position(|b| *b == b'=') {
            Some(eq) => {
                fields.push((
                    String::from_utf8(line[..eq].to_vec()).unwrap(),
                    String::from_utf8(line[eq + 1..].to_vec()).unwrap(),
                ));
                bytes = &bytes[end + 1..];
            }
            None => {
                let name = String::from_utf8(line.to_vec()).unwrap();
                let rest = &bytes[end + 1..];
                let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
                fields.push((name, String::from_utf8(rest[8..8 + len].to_vec()).unwrap()));
                assert_eq!(rest[8 + len], b'\n', "a binary value ends with a newline");
                bytes = &rest[8 + len + 1..];
            }
        }
    }
    fields
}

fn get<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn an_event_becomes_journal_fields_with_its_spans_and_a_multiline_value_length_prefixed() {
    let line = r#"{"timestamp":"2026-12-05T10:00:00Z","level":"WARN","message":"vendor refused","target":"campaignd::scheduler","error":"line one\nline two","attempt_no":2,"span":{"campaign":"inner","name":"dispatch"},"spans":[{"campaign":"outer","vendor":"blu","name":"tick"},{"campaign":"inner","name":"dispatch"}]}"#;
    let event: Map<String, Value> = serde_json::from_str(line).unwrap();
    let fields = parse(&entry(&event));
    assert_eq!(get(&fields, "MESSAGE"), Some("vendor refused"));
    assert_eq!(get(&fields, "PRIORITY"), Some("4"));
    assert_eq!(get(&fields, "SYSLOG_IDENTIFIER"), Some("campaignd"));
    assert_eq!(get(&fields, "TARGET"), Some("campaignd::scheduler"));
    assert_eq!(get(&fields, "ERROR"), Some("line one\nline two"));
    assert_eq!(get(&fields, "ATTEMPT_NO"), Some("2"));
    assert_eq!(get(&fields, "CAMPAIGN"), Some("inner"), "the innermost span wins");
    assert_eq!(get(&fields, "VENDOR"), Some("blu"));
    assert_eq!(fields.iter().filter(|(n, _)| n == "CAMPAIGN").count(), 1);
    assert!(get(&fields, "TIMESTAMP").is_none() && get(&fields, "NAME").is_none(), "{fields:?}");
}

#[test]
fn field_names_follow_journald_rules() {
    assert_eq!(journal_name("campaign").as_deref(), Some("CAMPAIGN"));
    assert_eq!(journal_name("http.status").as_deref(), Some("HTTP_STATUS"));
    assert_eq!(journal_name("_private").as_deref(), Some("PRIVATE"));
    assert_eq!(journal_name("2fa").as_deref(), Some("FA"));
    assert_eq!(journal_name("message"), None, "journald's own fields stay the event's");
    assert_eq!(journal_name("___"), None);
}

#[test]
fn a_line_reaches_the_socket_masked_and_a_line_that_is_not_json_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal.sock");
    let journal_side = UnixDatagram::bind(&path).unwrap();
    let mut writer = Journal::connect(&path).unwrap().make_writer();
    writer
        .write_all(br#"{"level":"INFO","message":"dialing +6281234567890","target":"t","phone":"+6281234567890"}"#)
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = journal_side.recv(&mut buf).unwrap();
    let fields = parse(&buf[..n]);
    assert_eq!(get(&fields, "PRIORITY"), Some("6"));
    let message = get(&fields, "MESSAGE").unwrap();
    assert!(!message.contains("6281234567890") && message.starts_with("dialing +62"), "{message}");
    assert!(!get(&fields, "PHONE").unwrap().contains("6281234567890"), "{fields:?}");
    // Not JSON: written to standard error, nothing sent.
    writer.write_all(b"not json\n").unwrap();
    journal_side.set_nonblocking(true).unwrap();
    assert!(journal_side.recv(&mut buf).is_err(), "nothing sent for a line that is not JSON");
}

#[test]
fn connecting_where_nothing_listens_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Journal::connect(&dir.path().join("none.sock")).is_err());
}

//! The vendor's document, read at compile time (CI puts `shared/` beside
//! the repository), and its examples cut out of it: the contract tests use
//! the document's exact text, never a copy.

use serde_json::Value;

pub const DOC: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vendor-docs/smartivr-call-records-api.txt"));

/// The example answer of the endpoint `marker` names (e.g.
/// `接口:GET v1/task/number`): the first `{` after its `返回` line up to the
/// matching `}`, braces inside strings and `//` comments not counted.
pub fn example(marker: &str) -> &'static str {
    let at = DOC.find(marker).unwrap_or_else(|| panic!("`{marker}` is not in the document"));
    let answer = at + DOC[at..].find("返回").unwrap_or_else(|| panic!("no 返回 after `{marker}`"));
    let start = answer + DOC[answer..].find('{').unwrap_or_else(|| panic!("no example after `{marker}`"));
    let (mut depth, mut in_string, mut escaped, mut comment) = (0usize, false, false, false);
    for (i, c) in DOC[start..].char_indices() {
        let next = DOC[start + i + c.len_utf8()..].chars().next();
        match (comment, in_string, escaped, c) {
            (true, _, _, '\n') => comment = false,
            (true, ..) => {}
            (false, true, true, _) => escaped = false,
            (false, true, false, '\\') => escaped = true,
            (false, true, false, '"') => in_string = false,
            (false, true, ..) => {}
            (false, false, _, '"') => in_string = true,
            (false, false, _, '/') if next == Some('/') => comment = true,
            (false, false, _, '{') => depth += 1,
            (false, false, _, '}') => {
                depth -= 1;
                if depth == 0 {
                    return &DOC[start..=start + i];
                }
            }
            _ => {}
        }
    }
    panic!("the example after `{marker}` never closes")
}

/// Read one of the document's annotated examples: no-break spaces read as
/// spaces, `//` comments (outside strings) and trailing commas dropped, bare `key: value` lines quoted and
/// comma-separated.
pub fn json(text: &str) -> Value {
    // 1. Comments.
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '/' && chars.peek() == Some(&'/') {
            for d in chars.by_ref() {
                if d == '\n' {
                    out.push('\n');
                    break;
                }
            }
        } else if c.is_whitespace() && c != '\n' {
            out.push(' '); // the web copy indents with no-break spaces
        } else {
            in_string = c == '"';
            out.push(c);
        }
    }
    // 2. Bare keys (`id: 12` lines without commas).
    let lines: Vec<&str> = out.lines().collect();
    let mut fixed = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let bare = trimmed.split_once(':').filter(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !k.starts_with('"')
        });
        match bare {
            Some((key, value)) => {
                let value = value.trim();
                let next = lines[i + 1..].iter().map(|l| l.trim()).find(|l| !l.is_empty()).unwrap_or("}");
                let comma = !value.ends_with(',') && !next.starts_with('}') && !next.starts_with(']');
                fixed.push(format!("\"{key}\": {value}{}", if comma { "," } else { "" }));
            }
            None => fixed.push(line.to_string()),
        }
    }
    let out = fixed.join("\n");
    // 3. Trailing commas.
    let mut clean = String::new();
    let mut in_string = false;
    let mut escaped = false;
    let chars: Vec<char> = out.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        clean.push(c);
    }
    serde_json::from_str(&clean).unwrap_or_else(|e| panic!("doc example unreadable: {e}\n{clean}"))
}

#[test]
fn every_example_is_cut_whole() {
    for (marker, first_key) in [
        ("接口:POST v1/task/query_done_task_phones", "\"data\""),
        ("接口:GET v1/task/number", "\"code\""),
        ("接口:GET v1/record/{record_id}", "\"code\""),
        ("接口:GET /v1/task/record_info/{task_id}/{record_id}", "\"records\""),
    ] {
        let text = example(marker);
        assert!(text.starts_with('{') && text.ends_with('}'), "{marker}");
        assert!(
            text[1..].trim_start().starts_with(first_key),
            "{marker}: {}",
            text.chars().take(40).collect::<String>()
        );
        assert!(json(text).is_object(), "{marker}");
    }
}

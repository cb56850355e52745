//! The vendor side of config validation, through `config::parse` as every
//! loader calls it: each problem named with its field path and line.

use super::Kinds;
use crate::config::parse;
use std::path::Path;

fn problems(text: &str) -> String {
    parse(text, Path::new("t.toml"), Path::new("."), &Kinds).unwrap_err().to_string()
}

#[test]
fn empty_secrets_are_config_errors_on_their_own_lines() {
    let text = r#"
[http]
admin_token = "  "

[[vendors]]
id = "sim"
kind = "sim"
base_url = "http://127.0.0.1:9"
api_key = "k"
callback_secret = ""

[[vendors]]
id = "laaffic"
kind = "laaffic"
base_url = "http://127.0.0.1:9"
api_key = "k"
api_secret = "\t"
callback_token = ""
"#;
    let err = parse(text, Path::new("t.toml"), Path::new("."), &Kinds).unwrap_err().to_string();
    for needle in [
        "line 3: http.admin_token: the value is empty or blank",
        "line 10: vendors[0].callback_secret: the value is empty or blank",
        "line 17: vendors[1].api_secret: the value is empty or blank",
        "line 18: vendors[1].callback_token: the value is empty or blank",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    // Reported once as empty, not a second time as missing.
    assert!(!err.contains("callback_token: required"), "{err}");
    assert!(!err.contains("callback_secret: required"), "{err}");
}

#[test]
fn a_sim_without_a_callback_secret_is_refused() {
    let text = "[[vendors]]\nid = \"sim\"\nkind = \"sim\"\nbase_url = \"http://127.0.0.1:9\"\napi_key = \"k\"\n";
    let err = parse(text, Path::new("t.toml"), Path::new("."), &Kinds).unwrap_err().to_string();
    assert!(err.contains("line 3: vendors[0].callback_secret: required: the key the simulator signs"), "{err}");
}

#[test]
fn unknown_kinds_and_misplaced_tables_name_the_vendor_and_field() {
    let text = r#"[[vendors]]
id = "v1"
kind = "telepathy"
base_url = "http://127.0.0.1:9"

[[vendors]]
id = "v2"
kind = "sim"
base_url = "http://127.0.0.1:9"
callback_secret = "s"
fake = { busy_rate = 0.5 }
sim = { duplicate_rate = 2.0 }

[[vendors]]
id = "v3"
kind = "blu"
base_url = "http://127.0.0.1:9"
api_key = "k"
api_secret = "s"
callback_token = "t"
fake = { outcomes = { E = 1 } }
"#;
    let err = problems(text);
    for needle in [
        "line 3: vendors[0].kind: unknown vendor kind `telepathy` (known: sim, laaffic, ai-voice, airudder, blu, smartivr)",
        "line 8: vendors[1].fake: `fake` is for real vendor kinds; the sim uses `sim`",
    ] {
        assert!(err.contains(needle), "missing `{needle}` in:\n{err}");
    }
    // What the tables say is read by the doubles they configure.
    for needle in [
        "line 8: vendors[1].sim: duplicate_rate must be between 0 and 1",
        "line 16: vendors[2].fake: outcomes: unknown code `E`",
    ] {
        assert_eq!(err.contains(needle), cfg!(feature = "doubles"), "`{needle}` in:\n{err}");
    }
}

#[test]
fn embedded_listen_needs_the_doubles_feature() {
    let text = "[[vendors]]\nid = \"sim\"\nkind = \"sim\"\nembedded_listen = \"127.0.0.1:0\"\napi_key = \"k\"\ncallback_secret = \"s\"\n";
    let checked = parse(text, Path::new("t.toml"), Path::new("."), &Kinds);
    if cfg!(feature = "doubles") {
        checked.unwrap();
    } else {
        let err = checked.unwrap_err().to_string();
        assert!(
            err.contains(
                "line 3: vendors[0].embedded_listen: `embedded_listen` needs a build with the `doubles` feature"
            ),
            "{err}"
        );
    }
}

//! The Laaffic / ITNIO "AI voice" vendor family: one Yiwise backend behind
//! two products, so the `laaffic` and `ai_voice` adapters speak one dialect.
//! What they share lives here: [`sign`] (the `Sign`/`Timestamp`/`Api-Key`
//! request signing, the `status`/`reason` reply envelope and the
//! classification of its codes), [`Keys`] (a signed request), [`fields`]
//! (reading a pushed record's loose fields), [`push_records`] (a push body
//! as its records) and [`task_name`] (the unique task name both require).

pub mod fields;
pub mod sign;
#[cfg(test)]
pub(crate) mod testkit;

use crate::config::VendorSettings;
use crate::vendors::common::{Envelope, VendorHttp};
use crate::vendors::{CallbackError, VendorError};
use chrono::Utc;
use serde_json::Value;
use std::fmt;

/// The account's key pair; every request of the family is signed with it.
/// `Debug` never shows it.
#[derive(Clone)]
pub struct Keys {
    api_key: String,
    api_secret: String,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").field("api_key", &"<redacted>").field("api_secret", &"<redacted>").finish()
    }
}

impl Keys {
    /// The vendor's `api_key` and `api_secret`, both required.
    pub fn from_settings(settings: &VendorSettings) -> Result<Keys, String> {
        Ok(Keys {
            api_key: settings.api_key.as_ref().ok_or("api_key: required")?.expose().to_string(),
            api_secret: settings.api_secret.as_ref().ok_or("api_secret: required")?.expose().to_string(),
        })
    }

    /// POST `body` as JSON to `path` (below the base URL), signed with the
    /// family's headers, and read the reply envelope; also the raw answer,
    /// for audit and error messages. `idempotent` as in [`VendorHttp::send`].
    pub async fn post(
        &self,
        http: &VendorHttp,
        op: &str,
        path: &str,
        body: &Value,
        idempotent: bool,
    ) -> Result<(Envelope, String), VendorError> {
        let url = http.url(path)?;
        let mut req = http.client.post(url).json(body);
        // The signature carries the wall clock the vendor checks it against.
        for (k, v) in sign::auth_headers(&self.api_key, &self.api_secret, Utc::now().timestamp()) {
            req = req.header(k, v);
        }
        let answer = http.send(op, req, idempotent).await?;
        let env = sign::envelope(http, op, &answer, idempotent)?;
        Ok((env, answer.body))
    }
}

/// A push body as its records: an array of them, or one object (read as a
/// one-record array). Only a body that is not JSON, or neither an array nor
/// an object, is malformed; `expected` names what the vendor documents.
pub fn push_records(body: &[u8], expected: &str) -> Result<Vec<Value>, CallbackError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(format!("not JSON: {e}")))?;
    match value {
        Value::Array(records) => Ok(records),
        record @ Value::Object(_) => Ok(vec![record]),
        other => Err(CallbackError::Malformed(format!("expected {expected}, got {}", fields::shown(&other)))),
    }
}

/// A task name of 2-64 characters, unique at the vendor (Laaffic
/// `taskName`, 長度2-64,不可重複, −41 when taken; ITNIO `name`, −33):
/// `<campaign>-<first ref>`, or with a time suffix when the first one was
/// taken. The reference (`<installation>-<contact>-<attempt>`, up to
/// ~35 characters, unique per installation) is kept whole and the campaign
/// name cut to leave it room: cutting the reference instead would give every
/// batch of a long-named campaign the same name, and a −41 round trip each.
pub fn task_name(campaign: &str, first_ref: &str, retry: bool) -> String {
    const BASE: usize = 44; // + "-" + 17-character time suffix = 62 ≤ 64
    let room = BASE.saturating_sub(first_ref.chars().count() + 1);
    let joined = match campaign.chars().take(room).collect::<String>() {
        c if c.is_empty() => first_ref.to_string(),
        c => format!("{c}-{first_ref}"),
    };
    let skip = joined.chars().count().saturating_sub(BASE);
    let base: String = joined.chars().skip(skip).collect();
    // A retried name must differ from the last try's: the wall clock's
    // milliseconds are a nonce here, not a time anything is decided by.
    let name = if retry { format!("{base}-{}", Utc::now().format("%Y%m%d%H%M%S%3f")) } else { base };
    if name.chars().count() < 2 { format!("task-{name}") } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    #[test]
    fn keys_are_required_and_never_shown() {
        let mut v = VendorSettings::for_test("v", "laaffic");
        assert_eq!(Keys::from_settings(&v).unwrap_err(), "api_key: required");
        v.api_key = Some(Secret::new("k3y"));
        assert_eq!(Keys::from_settings(&v).unwrap_err(), "api_secret: required");
        v.api_secret = Some(Secret::new("s3cret"));
        let shown = format!("{:?}", Keys::from_settings(&v).unwrap());
        assert!(!shown.contains("k3y") && !shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn a_push_is_an_array_of_records_or_one_record() {
        assert_eq!(push_records(br#"[{"a":1},{"a":2}]"#, "records").unwrap().len(), 2);
        assert_eq!(push_records(br#"{"a":1}"#, "records").unwrap(), vec![serde_json::json!({"a": 1})]);
        let err = push_records(b"7", "an array of call records").unwrap_err().to_string();
        assert!(err.contains("expected an array of call records"), "{err}");
        assert!(push_records(b"[", "records").unwrap_err().to_string().contains("not JSON"));
    }

    #[test]
    fn task_names_keep_the_reference_whole_and_fit_64_characters() {
        let long = "c".repeat(80);
        let name = task_name(&long, "0123456789ab-42-1", false);
        assert!(name.ends_with("-0123456789ab-42-1") && name.chars().count() <= 44, "{name}");
        let retried = task_name(&long, "0123456789ab-42-1", true);
        assert!(retried.starts_with(&name) && retried.chars().count() <= 64, "{retried}");
        assert_eq!(task_name("", "r", false), "task-r");
    }
}

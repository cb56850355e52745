//! Secrets (API keys, tokens) may be written inline, or taken from an
//! environment variable or a file so that config.toml can be world-readable.
//! A [`Secret`] never prints its value in `Debug` or logs.

use serde::Deserialize;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value. Call only where it is sent to its destination.
    /// The value of an optional secret, empty when it is not configured
    /// (config validation reports the missing ones).
    pub fn exposed_or_empty(secret: &Option<Secret>) -> String {
        secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How a secret is written in TOML: `"value"`, `{ env = "VAR" }` or `{ file = "/path" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SecretSource {
    Inline(String),
    Env { env: String },
    File { file: String },
}

impl SecretSource {
    /// Resolve the value; the error says where it was looked for, never the value.
    pub fn resolve(&self) -> Result<Secret, String> {
        match self {
            SecretSource::Inline(v) => Ok(Secret::new(v.clone())),
            SecretSource::Env { env } => {
                std::env::var(env).map(Secret::new).map_err(|_| format!("environment variable `{env}` is not set"))
            }
            SecretSource::File { file } => std::fs::read_to_string(file)
                .map(|s| Secret::new(s.trim_end_matches(['\n', '\r']).to_string()))
                .map_err(|e| format!("cannot read secret file `{file}`: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let src = SecretSource::Env { env: "CAMPAIGND_TEST_SURELY_UNSET".into() };
        assert!(src.resolve().unwrap_err().contains("CAMPAIGND_TEST_SURELY_UNSET"));
    }
}

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

/// Why a secret could not be had. Says where it was looked for, never the value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set")]
    EnvUnset(String),
    #[error("cannot read secret file `{file}`: {reason}")]
    FileUnreadable { file: String, reason: String },
    /// An empty token compares equal to an empty header or `?token=`, so it
    /// would switch authentication off instead of requiring it.
    #[error("{0} is empty or blank: an empty secret matches an empty credential and would let anyone in")]
    Empty(String),
}

impl SecretSource {
    /// Resolve the value. Empty or whitespace-only values are refused
    /// wherever they come from (a file's trailing newline is not part of it).
    pub fn resolve(&self) -> Result<Secret, SecretError> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) reading variables through `env` (tests pass
    /// their own: changing the process environment races other threads).
    pub fn resolve_with(&self, env: impl Fn(&str) -> Option<String>) -> Result<Secret, SecretError> {
        let (value, origin) = match self {
            SecretSource::Inline(v) => (v.clone(), "the value".to_string()),
            SecretSource::Env { env: name } => {
                let v = env(name).ok_or_else(|| SecretError::EnvUnset(name.clone()))?;
                (v, format!("environment variable `{name}`"))
            }
            SecretSource::File { file } => {
                // The io::Error's text without its "(os error N)" tail would lose
                // the code operators search for; keep it whole, once.
                let text = std::fs::read_to_string(file)
                    .map_err(|e| SecretError::FileUnreadable { file: file.clone(), reason: e.to_string() })?;
                (text.trim_end_matches(['\n', '\r']).to_string(), format!("secret file `{file}`"))
            }
        };
        if value.trim().is_empty() {
            return Err(SecretError::Empty(origin));
        }
        Ok(Secret::new(value))
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
        assert_eq!(src.resolve().unwrap_err(), SecretError::EnvUnset("CAMPAIGND_TEST_SURELY_UNSET".into()));
    }

    #[test]
    fn empty_or_blank_values_are_refused_from_every_source() {
        for inline in ["", "  ", "\t"] {
            let err = SecretSource::Inline(inline.into()).resolve().unwrap_err();
            assert_eq!(err, SecretError::Empty("the value".into()), "{inline:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        for (i, content) in ["", "\n", "  \r\n", " \t \n"].iter().enumerate() {
            let path = dir.path().join(format!("s{i}"));
            std::fs::write(&path, content).unwrap();
            let file = path.display().to_string();
            let err = SecretSource::File { file: file.clone() }.resolve().unwrap_err();
            assert_eq!(err, SecretError::Empty(format!("secret file `{file}`")), "{content:?}");
        }
        // A real value keeps everything but the file's line ending.
        let path = dir.path().join("good");
        std::fs::write(&path, "s3cret\n").unwrap();
        let good = SecretSource::File { file: path.display().to_string() }.resolve().unwrap();
        assert_eq!(good.expose(), "s3cret");
    }

    #[test]
    fn empty_env_value_is_refused_naming_the_variable() {
        let env = |name: &str| match name {
            "EMPTY" => Some(String::new()),
            "BLANK" => Some("   ".to_string()),
            _ => None,
        };
        for var in ["EMPTY", "BLANK"] {
            let err = SecretSource::Env { env: var.into() }.resolve_with(env).unwrap_err();
            assert_eq!(err, SecretError::Empty(format!("environment variable `{var}`")));
            assert!(err.to_string().contains("empty or blank"), "{err}");
        }
        let set = SecretSource::Env { env: "SET".into() }.resolve_with(|_| Some("tok".into())).unwrap();
        assert_eq!(set.expose(), "tok");
    }
}

//! The fakes by vendor kind name (the daemon's `kind = "..."`): what the
//! daemon needs to run one inside itself (`embedded_listen`) and to check a
//! vendor's `[vendors.fake]` table.

use crate::config::FakeConfig;
use crate::fake::{FakeBehavior, FakeHandle};
use futures::future::BoxFuture;

/// Start a fake on a listener.
pub type Spawn =
    fn(&FakeConfig, FakeBehavior, tokio::net::TcpListener) -> BoxFuture<'static, std::io::Result<FakeHandle>>;

pub struct Kind {
    /// The vendor kind, as the daemon's config names it.
    pub name: &'static str,
    /// The codes the fake's `outcomes` may weight.
    pub codes: &'static [&'static str],
    /// The fake's mix when `outcomes` is empty.
    pub defaults: &'static [(&'static str, f64)],
    /// Start the fake with its documented default bodies.
    pub spawn: Spawn,
}

pub const KINDS: &[Kind] = &[
    Kind {
        name: "laaffic",
        codes: crate::laaffic::CODES,
        defaults: crate::laaffic::DEFAULTS,
        spawn: |config, behavior, listener| Box::pin(crate::laaffic::spawn(config, behavior, listener)),
    },
    Kind {
        name: "ai-voice",
        codes: crate::ai_voice::CODES,
        defaults: crate::ai_voice::DEFAULTS,
        spawn: |config, behavior, listener| Box::pin(crate::ai_voice::spawn(config, behavior, listener)),
    },
    Kind {
        name: "airudder",
        codes: crate::airudder::CODES,
        defaults: crate::airudder::DEFAULTS,
        spawn: |config, behavior, listener| {
            let config = config.clone();
            Box::pin(async move { crate::airudder::spawn(&config, behavior, listener).await })
        },
    },
    Kind {
        name: "blu",
        codes: crate::blu::CODES,
        defaults: crate::blu::DEFAULTS,
        spawn: |config, behavior, listener| {
            let config = config.clone();
            Box::pin(async move { crate::blu::spawn(&config, behavior, listener).await })
        },
    },
    Kind {
        name: "smartivr",
        codes: crate::smartivr::CODES,
        defaults: crate::smartivr::DEFAULTS,
        spawn: |config, behavior, listener| {
            let config = config.clone();
            Box::pin(async move { crate::smartivr::spawn(&config, behavior, listener).await })
        },
    },
];

/// The fake of a vendor kind, if there is one.
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

impl Kind {
    /// A `[vendors.fake]` table as the behaviour of this kind's fake, or why
    /// it cannot be one (an unknown field, a bad duration, an unknown code).
    pub fn behavior(&self, table: toml::Value) -> Result<FakeBehavior, String> {
        let behavior: FakeBehavior =
            table.try_into().map_err(|e: toml::de::Error| e.to_string().trim_end().to_string())?;
        behavior.validate(self.codes)?;
        Ok(behavior)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kind_weights_only_its_own_codes_by_default() {
        for kind in KINDS {
            let codes: HashSet<_> = kind.codes.iter().collect();
            assert_eq!(codes.len(), kind.codes.len(), "{}: a code twice", kind.name);
            assert!(kind.defaults.iter().all(|(c, w)| codes.contains(c) && *w > 0.0), "{}", kind.name);
            FakeBehavior::default().validate(kind.codes).unwrap();
        }
        assert!(find("sim").is_none(), "the sim is not a fake: it has its own server");
    }

    #[test]
    fn a_fake_table_is_read_and_checked_against_the_kind() {
        let airudder = find("airudder").unwrap();
        let b = airudder.behavior(toml::from_str("latency_max = \"1s\"\noutcomes = { E = 1 }").unwrap()).unwrap();
        assert_eq!(b.latency_max, std::time::Duration::from_secs(1));
        let err = airudder.behavior(toml::from_str("outcomes = { D00 = 1 }").unwrap()).unwrap_err();
        assert!(err.contains("unknown code `D00`"), "{err}");
        let err = airudder.behavior(toml::from_str("lines = 3").unwrap()).unwrap_err();
        assert!(err.contains("lines"), "{err}");
    }
}

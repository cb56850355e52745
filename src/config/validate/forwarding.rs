//! `[forwarding]` and `[campaigns.forwarding]`: where results are POSTed,
//! with which secret, which events, and how failed deliveries are retried.
//! A campaign's own block replaces the global one whole (`enabled = false`
//! turns forwarding off for it); campaigns without one use the global block.

use super::Validator;
use crate::config::Secret;
use crate::config::raw::RawForwarding;
use crate::domain::forwarding::backoff::RetryPolicy;
use crate::domain::forwarding::signature::signing_key;
use crate::domain::forwarding::{ForwardEvent, ForwardEvents, ForwardRoutes};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One destination of forwarded events.
#[derive(Debug, Clone)]
pub struct ForwardTarget {
    pub url: String,
    /// Signs every delivery (see `domain::forwarding::signature`).
    pub secret: Secret,
    pub events: ForwardEvents,
    /// How long one delivery may take, connection to last byte of the answer.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// Every campaign's forwarding destination.
#[derive(Debug, Clone, Default)]
pub struct ForwardingSettings {
    pub global: Option<Arc<ForwardTarget>>,
    /// Config campaigns with their own block: their target, None when it
    /// says `enabled = false`.
    pub campaigns: BTreeMap<String, Option<Arc<ForwardTarget>>>,
}

impl ForwardingSettings {
    /// Where `campaign`'s events go, if anywhere.
    pub fn target(&self, campaign: &str) -> Option<&Arc<ForwardTarget>> {
        match self.campaigns.get(campaign) {
            Some(own) => own.as_ref(),
            None => self.global.as_ref(),
        }
    }

    /// Which events each campaign writes to the outbox.
    pub fn routes(&self) -> ForwardRoutes {
        let events = |t: Option<&Arc<ForwardTarget>>| t.map(|t| t.events).unwrap_or_default();
        ForwardRoutes {
            default: events(self.global.as_ref()),
            campaigns: self.campaigns.iter().map(|(name, t)| (name.clone(), events(t.as_ref()))).collect(),
        }
    }

    /// Whether any campaign forwards (the worker runs only then).
    pub fn any(&self) -> bool {
        self.global.is_some() || self.campaigns.values().any(Option::is_some)
    }
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
pub const DEFAULT_BACKOFF_BASE: Duration = Duration::from_secs(5);
pub const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);

/// The retry policy of an event whose campaign has no destination now.
pub fn forwarding_defaults() -> RetryPolicy {
    RetryPolicy { base: DEFAULT_BACKOFF_BASE, cap: DEFAULT_BACKOFF_CAP, max_age: DEFAULT_MAX_AGE }
}

impl Validator<'_> {
    /// A forwarding block at `p` (`forwarding`, `campaigns[2].forwarding`):
    /// None when it is disabled or has problems (each reported by field).
    pub(super) fn forward_target(&mut self, p: &str, raw: &RawForwarding) -> Option<Arc<ForwardTarget>> {
        if raw.enabled == Some(false) {
            return None;
        }
        let url = match &raw.url {
            None => {
                self.issues.push(super::ConfigIssue {
                    path: format!("{p}.url"),
                    line: None,
                    message: "is required (or set `enabled = false`)".into(),
                });
                None
            }
            Some(u) => match reqwest::Url::parse(u.get_ref()) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Some(u.get_ref().clone()),
                Ok(parsed) => {
                    self.issue(
                        format!("{p}.url"),
                        Some(u),
                        format!("scheme `{}` is not http or https", parsed.scheme()),
                    );
                    None
                }
                Err(e) => {
                    self.issue(format!("{p}.url"), Some(u), format!("`{}` is not a URL: {e}", u.get_ref()));
                    None
                }
            },
        };
        let secret = self.secret(&format!("{p}.secret"), &raw.secret);
        if raw.secret.is_none() {
            self.issues.push(super::ConfigIssue {
                path: format!("{p}.secret"),
                line: None,
                message: "is required: every delivery is signed (a value, { env = \"VAR\" } or { file = \"path\" })"
                    .into(),
            });
        }
        if let (Some(s), Some(src)) = (&secret, &raw.secret)
            && let Err(e) = signing_key(s.expose())
        {
            self.issue(format!("{p}.secret"), Some(src), e.to_string());
        }
        let mut events = Vec::new();
        match &raw.events {
            None => events.push(ForwardEvent::ContactFinal),
            Some(list) => {
                for (i, e) in list.iter().enumerate() {
                    match e.get_ref().parse::<ForwardEvent>() {
                        Ok(ev) => events.push(ev),
                        Err(err) => self.issue(format!("{p}.events[{i}]"), Some(e), err.to_string()),
                    }
                }
            }
        }
        let timeout = self.duration(&format!("{p}.timeout"), &raw.timeout, DEFAULT_TIMEOUT);
        let max_age = self.duration(&format!("{p}.max_age"), &raw.max_age, DEFAULT_MAX_AGE);
        let base = self.duration(&format!("{p}.backoff_base"), &raw.backoff_base, DEFAULT_BACKOFF_BASE);
        let cap = self.duration(&format!("{p}.backoff_cap"), &raw.backoff_cap, DEFAULT_BACKOFF_CAP);
        if cap < base {
            self.issue(
                format!("{p}.backoff_cap"),
                raw.backoff_cap.as_ref(),
                format!("{cap:?} is shorter than backoff_base ({base:?})"),
            );
        }
        Some(Arc::new(ForwardTarget {
            url: url?,
            secret: secret?,
            events: ForwardEvents::of(&events),
            timeout,
            retry: RetryPolicy { base, cap, max_age },
        }))
    }
}

//! `config.toml`: raw TOML shapes (`raw`), secrets (`secret`), and validation
//! into typed settings (`validate`). Validation collects *every* problem with
//! its field path and line instead of stopping at the first.

pub mod campaign_definition;
pub mod holidays;
pub mod raw;
pub mod secret;
pub mod validate;

pub use secret::Secret;
pub use validate::{
    CampaignSettings, ConfigError, ConfigIssue, DatabaseSettings, ForwardTarget, ForwardingSettings, HttpSettings,
    RecallConfig, RefreshSettings, RefreshSource, RuleConfig, SchedulerSettings, Settings, UrlAuth, VendorCheck,
    VendorSettings, load, parse,
};

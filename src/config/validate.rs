//! Turn a [`RawConfig`] into typed [`Settings`], collecting every problem.

use super::campaign_definition;
use super::raw::{RawCampaign, RawCompliance, RawConfig, RawVendor};
pub use super::raw::{RawRecall as RecallConfig, RawRule as RuleConfig};
use super::secret::Secret;
use crate::domain::compliance::caps::parse_rules;
use crate::domain::compliance::{ComplianceSettings, FrequencyRule, Profile};
use crate::domain::contact_columns::Columns;
use crate::domain::duration::parse_duration;
use crate::domain::holidays::HolidayCalendar;
use crate::domain::recall::{Matcher, RecallPolicy, RecallRule, RuleAction};
use crate::domain::routing::RedialStrategy;
use crate::domain::window::CallingWindows;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use toml::Spanned;

mod database;
mod forwarding;
mod http_limits;
mod refresh;
pub use database::{DatabaseSettings, sqlite_file, sqlite_read_only};
pub use forwarding::{ForwardTarget, ForwardingSettings, forwarding_defaults};
pub use http_limits::HttpLimits;
pub use refresh::{RefreshSettings, RefreshSource, UrlAuth};

/// One problem in the config, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Field path like `campaigns[0].windows`.
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The cause is in the message, so it is not also a `source`: `main`
    /// prints the whole chain and would say it twice.
    #[error("cannot read config file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("{path}: invalid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {} problem(s):\n{}", issues.len(), issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, issues: Vec<ConfigIssue> },
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// How log lines are written (applied at start-up, before this is read;
    /// validated here so a bad value is reported with its line).
    pub log_format: crate::logging::LogFormat,
    /// Directory of the config file: relative paths in it are relative to this.
    pub base_dir: PathBuf,
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub scheduler: SchedulerSettings,
    pub vendors: Vec<VendorSettings>,
    pub campaigns: Vec<CampaignSettings>,
    pub compliance: ComplianceSettings,
    /// Where each campaign's results are forwarded.
    pub forwarding: ForwardingSettings,
}

#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub max_body_bytes: usize,
    pub max_connections: usize,
    pub admin_token: Option<Secret>,
    /// Per-peer and per-request bounds against slow or hostile clients.
    pub limits: HttpLimits,
}

#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How often the scheduler looks for due contacts.
    pub tick: Duration,
    /// Most contacts claimed per campaign per tick.
    pub claim_batch: u32,
    /// A dispatch still unconfirmed after this is looked up at the vendor.
    pub dispatch_timeout: Duration,
    /// A dispatched attempt without a result after this is polled.
    pub result_timeout: Duration,
    /// A dispatched attempt still without a result after this is `lost`.
    pub lost_after: Duration,
    pub reconcile_every: Duration,
    /// This instance's name in leases; unique among the instances sharing a
    /// database and the same across its restarts.
    pub instance_id: String,
    /// The leader lease's length; it is renewed every `reconcile_every`.
    pub leader_lease: Duration,
}

#[derive(Debug, Clone)]
pub struct VendorSettings {
    pub id: String,
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key: Option<Secret>,
    pub api_secret: Option<Secret>,
    pub callback_secret: Option<Secret>,
    pub callback_token: Option<Secret>,
    pub callback_allow_ips: Vec<ipnet::IpNet>,
    pub circuit_cooldown: Duration,
    pub max_concurrency: u32,
    /// Requests per second allowed to the vendor API.
    pub rate_per_second: Option<f64>,
    pub request_timeout: Duration,
    pub embedded_listen: Option<SocketAddr>,
    /// `[vendors.sim]` as written: the simulator's behaviour (`sim` kind).
    /// Read and checked by the vendor side ([`VendorCheck`]).
    pub sim: Option<toml::Value>,
    /// `[vendors.fake]` as written: the behaviour of a real kind's embedded
    /// fake. Read and checked by the vendor side ([`VendorCheck`]).
    pub fake: Option<toml::Value>,
    pub options: toml::Table,
    /// Tags → intents for vendors that tag calls (ITNIO, smartivr).
    pub tag_intents: crate::domain::tags::TagIntents,
    /// Currency of the price and of costs reported without one (`USD`).
    pub currency: String,
    /// `price_per_minute`: prices calls whose result carries no cost.
    pub pricing: Option<crate::domain::call_cost::Pricing>,
}

impl VendorSettings {
    /// A vendor as a unit test needs it: no credentials, no options, the
    /// config defaults otherwise; tests set what they check with struct
    /// update syntax.
    #[cfg(test)]
    pub fn for_test(id: &str, kind: &str) -> VendorSettings {
        VendorSettings {
            id: id.to_string(),
            kind: kind.to_string(),
            base_url: None,
            api_key: None,
            api_secret: None,
            callback_secret: None,
            callback_token: None,
            callback_allow_ips: Vec::new(),
            circuit_cooldown: Duration::from_secs(60),
            max_concurrency: 10,
            rate_per_second: None,
            request_timeout: Duration::from_secs(5),
            embedded_listen: None,
            sim: None,
            fake: None,
            options: toml::Table::new(),
            tag_intents: crate::domain::tags::TagIntents::default(),
            currency: DEFAULT_CURRENCY.to_string(),
            pricing: None,
        }
    }
}

/// The currency of a vendor that names none.
pub const DEFAULT_CURRENCY: &str = "USD";

#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub name: String,
    pub timezone: Tz,
    pub windows_spec: String,
    pub windows: CallingWindows,
    pub blackout_dates: Vec<NaiveDate>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub max_concurrency: u32,
    pub vendors: Vec<(String, u32)>,
    pub default_country_code: Option<String>,
    pub contacts_file: Option<PathBuf>,
    /// Scheduled contact refresh (config only).
    pub refresh: Option<RefreshSettings>,
    pub recall: RecallConfig,
    pub recall_policy: RecallPolicy,
    pub redial_strategy: RedialStrategy,
    pub vendor_redial: bool,
    pub profiles: Vec<&'static Profile>,
    pub caps: Vec<FrequencyRule>,
}

/// The vendor side of config validation. Config knows no vendor kind:
/// which kinds exist, and what each one requires of a vendor's credentials,
/// `options`, `sim` and `fake` tables, is asked of this (implemented by
/// `vendors::Kinds`, handed in by whoever loads the config).
pub trait VendorCheck {
    /// Every problem with one vendor's settings as `(field below the
    /// vendor, message)`, e.g. `("kind", "unknown vendor kind ...")` or
    /// `("options.app_id", "required: ...")`. Each is reported at the line of
    /// the vendor's `kind`.
    fn check(&self, vendor: &VendorSettings) -> Vec<(String, String)>;
}

/// For config's own tests: a vendor side with nothing to say.
#[cfg(test)]
pub(crate) struct NoVendorChecks;

#[cfg(test)]
impl VendorCheck for NoVendorChecks {
    fn check(&self, _: &VendorSettings) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// Read and validate a config file; `vendors` checks each vendor's kind-specific settings.
pub fn load(path: &Path, vendors: &dyn VendorCheck) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    parse(&text, path, &base_dir, vendors)
}

/// Validate config text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path, base_dir: &Path, vendors: &dyn VendorCheck) -> Result<Settings, ConfigError> {
    let raw: RawConfig = toml::from_str(text)
        .map_err(|e| ConfigError::Syntax { path: path.to_path_buf(), message: e.to_string().trim_end().to_string() })?;
    let mut v = Validator { text, vendors, issues: Vec::new() };
    let settings = v.settings(raw, base_dir);
    if v.issues.is_empty() {
        Ok(settings)
    } else {
        Err(ConfigError::Invalid { path: path.to_path_buf(), issues: v.issues })
    }
}

struct Validator<'a> {
    text: &'a str,
    vendors: &'a dyn VendorCheck,
    issues: Vec<ConfigIssue>,
}

impl Validator<'_> {
    fn line_at(&self, offset: usize) -> usize {
        let start = offset.min(self.text.len());
        self.text[..start].bytes().filter(|b| *b == b'\n').count() + 1
    }

    fn issue<T>(&mut self, path: impl Into<String>, at: Option<&Spanned<T>>, message: impl Into<String>) {
        let line = at.map(|s| self.line_at(s.span().start));
        self.issues.push(ConfigIssue { path: path.into(), line, message: message.into() });
    }

    fn duration(&mut self, path: &str, value: &Option<Spanned<String>>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(s) => match parse_duration(s.get_ref()) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => {
                    self.issue(path, Some(s), "must be greater than zero");
                    default
                }
                Err(e) => {
                    self.issue(path, Some(s), e.to_string());
                    default
                }
            },
        }
    }

    fn secret(&mut self, path: &str, src: &Option<Spanned<super::secret::SecretSource>>) -> Option<Secret> {
        let src = src.as_ref()?;
        match src.get_ref().resolve() {
            Ok(s) => Some(s),
            Err(e) => {
                self.issue(path, Some(src), e.to_string());
                None
            }
        }
    }

    fn settings(&mut self, raw: RawConfig, base_dir: &Path) -> Settings {
        let database = self.database(&raw.database);
        let listen = match &raw.http.listen {
            None => "127.0.0.1:8080".parse().expect("literal address"),
            Some(s) => s.get_ref().parse().unwrap_or_else(|_| {
                self.issue("http.listen", Some(s), format!("`{}` is not an address like 127.0.0.1:8080", s.get_ref()));
                "127.0.0.1:8080".parse().expect("literal address")
            }),
        };
        let http = HttpSettings {
            listen,
            public_url: raw.http.public_url.as_ref().map(|u| u.get_ref().trim_end_matches('/').to_string()),
            max_body_bytes: raw.http.max_body_bytes.unwrap_or(256 * 1024),
            max_connections: raw.http.max_connections.unwrap_or(4096).max(1),
            admin_token: self.secret("http.admin_token", &raw.http.admin_token),
            limits: self.http_limits(&raw.http),
        };
        let s = &raw.scheduler;
        let mut scheduler = SchedulerSettings {
            tick: self.duration("scheduler.tick", &s.tick, Duration::from_secs(1)),
            claim_batch: s.claim_batch.unwrap_or(500).max(1),
            dispatch_timeout: self.duration("scheduler.dispatch_timeout", &s.dispatch_timeout, Duration::from_secs(30)),
            result_timeout: self.duration("scheduler.result_timeout", &s.result_timeout, Duration::from_secs(600)),
            lost_after: self.duration("scheduler.lost_after", &s.lost_after, Duration::from_secs(3600)),
            reconcile_every: self.duration("scheduler.reconcile_every", &s.reconcile_every, Duration::from_secs(15)),
            instance_id: match &s.instance_id {
                Some(id) if id.get_ref().trim().is_empty() => {
                    self.issue("scheduler.instance_id", Some(id), "must not be empty");
                    default_instance_id(listen.port())
                }
                Some(id) => id.get_ref().trim().to_string(),
                None => default_instance_id(listen.port()),
            },
            leader_lease: Duration::ZERO,
        };
        // Default: three sweeps' worth, at least 45 s, so one slow sweep or a
        // short database hiccup does not hand the lead over.
        let default_lease = (scheduler.reconcile_every * 3).max(Duration::from_secs(45));
        scheduler.leader_lease = self.duration("scheduler.leader_lease", &s.leader_lease, default_lease);
        if scheduler.leader_lease <= scheduler.reconcile_every {
            self.issue(
                "scheduler.leader_lease",
                s.leader_lease.as_ref(),
                format!(
                    "{:?} must be longer than scheduler.reconcile_every ({:?}): the leader renews it once per sweep",
                    scheduler.leader_lease, scheduler.reconcile_every
                ),
            );
        }
        let mut vendor_ids = BTreeSet::new();
        let vendors: Vec<VendorSettings> = raw
            .vendors
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if !vendor_ids.insert(v.id.get_ref().clone()) {
                    self.issue(
                        format!("vendors[{i}].id"),
                        Some(&v.id),
                        format!("duplicate vendor id `{}`", v.id.get_ref()),
                    );
                }
                self.vendor(i, v)
            })
            .collect();
        let mut names = BTreeSet::new();
        let campaigns = raw
            .campaigns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                if !names.insert(c.name.get_ref().clone()) {
                    self.issue(
                        format!("campaigns[{i}].name"),
                        Some(&c.name),
                        format!("duplicate campaign name `{}`", c.name.get_ref()),
                    );
                }
                self.campaign(i, c, &vendor_ids, base_dir)
            })
            .collect();
        let mut compliance = self.compliance(&raw.compliance, base_dir);
        let forwarding = ForwardingSettings {
            global: raw.forwarding.as_ref().and_then(|f| self.forward_target("forwarding", f)),
            campaigns: raw
                .campaigns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let own = c.forwarding.as_ref()?;
                    Some((c.name.get_ref().clone(), self.forward_target(&format!("campaigns[{i}].forwarding"), own)))
                })
                .collect(),
        };
        compliance.forwarding = Arc::new(forwarding.routes());
        let log_format = match &raw.log_format {
            None => crate::logging::LogFormat::Text,
            Some(f) => f.get_ref().parse::<crate::logging::LogFormat>().unwrap_or_else(|e| {
                self.issue("log_format", Some(f), e.to_string());
                crate::logging::LogFormat::Text
            }),
        };
        Settings {
            base_dir: base_dir.to_path_buf(),
            log_format,
            database,
            http,
            scheduler,
            vendors,
            campaigns,
            compliance,
            forwarding,
        }
    }

    fn compliance(&mut self, c: &RawCompliance, base_dir: &Path) -> ComplianceSettings {
        let defaults = ComplianceSettings::default();
        let delta = |d: Duration| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        let dispatch_margin = delta(self.duration(
            "compliance.dispatch_margin",
            &c.dispatch_margin,
            defaults.dispatch_margin.to_std().unwrap_or_default(),
        ));
        let busy_backoff = delta(self.duration(
            "compliance.busy_backoff",
            &c.busy_backoff,
            defaults.busy_backoff.to_std().unwrap_or_default(),
        ));
        let caps = self.caps("compliance.caps", &c.caps);
        let files: Vec<PathBuf> = c.holiday_files.iter().map(|f| base_dir.join(f.get_ref())).collect();
        let loaded = match c.builtin_holidays.unwrap_or(true) {
            true => HolidayCalendar::load(&files),
            false => HolidayCalendar::load_without_builtin(&files),
        };
        let holidays = match loaded {
            Ok(cal) => Arc::new(cal),
            Err(errors) => {
                for e in errors {
                    self.issue("compliance.holiday_files", c.holiday_files.first(), e);
                }
                defaults.holidays
            }
        };
        ComplianceSettings { dispatch_margin, busy_backoff, caps, holidays, forwarding: Default::default() }
    }

    /// Each item of a caps list, with the item's own line on error.
    fn caps(&mut self, path: &str, items: &[Spanned<String>]) -> Vec<FrequencyRule> {
        let mut out = Vec::new();
        for (j, item) in items.iter().enumerate() {
            match parse_rules(item.get_ref()) {
                Ok(rules) => out.extend(rules),
                Err(e) => self.issue(format!("{path}[{j}]"), Some(item), e.to_string()),
            }
        }
        out
    }

    fn vendor(&mut self, i: usize, v: &RawVendor) -> VendorSettings {
        let p = format!("vendors[{i}]");
        let id = v.id.get_ref().clone();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            self.issue(
                format!("{p}.id"),
                Some(&v.id),
                "must be non-empty and use only letters, digits, '-' and '_' (it is part of the callback URL)",
            );
        }
        let kind = v.kind.get_ref().clone();
        let rate_per_second = v.rate_limit.as_ref().and_then(|r| match parse_rate(r.get_ref()) {
            Ok(rate) => Some(rate),
            Err(e) => {
                self.issue(format!("{p}.rate_limit"), Some(r), e);
                None
            }
        });
        let embedded_listen = v.embedded_listen.as_ref().and_then(|s| match s.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                self.issue(
                    format!("{p}.embedded_listen"),
                    Some(s),
                    format!("`{}` is not an address like 127.0.0.1:0", s.get_ref()),
                );
                None
            }
        });
        if v.base_url.is_none() && embedded_listen.is_none() {
            self.issue(
                format!("{p}.base_url"),
                Some(&v.kind),
                "a vendor needs `base_url` (or `embedded_listen` for a simulator)",
            );
        }
        let mut callback_allow_ips = Vec::new();
        for (j, net) in v.callback_allow_ips.iter().enumerate() {
            let text = net.get_ref();
            match text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)) {
                Ok(n) => callback_allow_ips.push(n),
                Err(_) => self.issue(
                    format!("{p}.callback_allow_ips[{j}]"),
                    Some(net),
                    format!("`{text}` is not an address or network like 203.0.113.0/24"),
                ),
            }
        }
        let circuit_cooldown =
            self.duration(&format!("{p}.circuit_cooldown"), &v.circuit_cooldown, Duration::from_secs(300));
        let mut tags = Vec::new();
        for (tag, intent) in &v.tag_intents {
            match intent.get_ref().parse::<crate::domain::outcome::Intent>() {
                Ok(i) => tags.push((tag.as_str(), i)),
                Err(e) => self.issue(format!("{p}.tag_intents.{tag}"), Some(intent), e.to_string()),
            }
        }
        let tag_intents = crate::domain::tags::TagIntents::with_overrides(tags);
        let (currency, pricing) = self.pricing(&p, v);
        let settings = VendorSettings {
            id,
            kind,
            base_url: v.base_url.as_ref().map(|u| u.get_ref().trim_end_matches('/').to_string()),
            api_key: self.secret(&format!("{p}.api_key"), &v.api_key),
            api_secret: self.secret(&format!("{p}.api_secret"), &v.api_secret),
            callback_secret: self.secret(&format!("{p}.callback_secret"), &v.callback_secret),
            callback_token: self.secret(&format!("{p}.callback_token"), &v.callback_token),
            callback_allow_ips,
            circuit_cooldown,
            max_concurrency: v.max_concurrency.unwrap_or(50).max(1),
            rate_per_second,
            request_timeout: self.duration(
                &format!("{p}.request_timeout"),
                &v.request_timeout,
                Duration::from_secs(10),
            ),
            embedded_listen,
            sim: v.sim.clone(),
            fake: v.fake.clone(),
            options: v.options.clone().unwrap_or_default(),
            tag_intents,
            currency,
            pricing,
        };
        let mut problems = self.vendors.check(&settings);
        // A secret already reported (empty, unset variable) is not reported
        // again as missing.
        problems.retain(|(field, _)| !self.issues.iter().any(|i| i.path == format!("{p}.{field}")));
        for (field, message) in problems {
            self.issue(format!("{p}.{field}"), Some(&v.kind), message);
        }
        settings
    }

    /// `currency` (three capital letters, `USD` by default) and
    /// `price_per_minute` (a decimal of at most 6 places, not negative).
    fn pricing(&mut self, p: &str, v: &RawVendor) -> (String, Option<crate::domain::call_cost::Pricing>) {
        let currency = match &v.currency {
            None => DEFAULT_CURRENCY.to_string(),
            Some(c) if c.get_ref().len() == 3 && c.get_ref().bytes().all(|b| b.is_ascii_uppercase()) => {
                c.get_ref().clone()
            }
            Some(c) => {
                self.issue(
                    format!("{p}.currency"),
                    Some(c),
                    format!("`{}` is not an ISO 4217 code like USD", c.get_ref()),
                );
                DEFAULT_CURRENCY.to_string()
            }
        };
        let price =
            v.price_per_minute.as_ref().and_then(|text| match crate::domain::call_cost::parse_amount(text.get_ref()) {
                Ok(micros) if micros >= 0 => Some(micros),
                Ok(_) => {
                    self.issue(format!("{p}.price_per_minute"), Some(text), "must not be negative");
                    None
                }
                Err(e) => {
                    self.issue(format!("{p}.price_per_minute"), Some(text), format!("{e} (write it like \"0.012\")"));
                    None
                }
            });
        let pricing = price.map(|micros_per_minute| crate::domain::call_cost::Pricing {
            micros_per_minute,
            currency: currency.clone(),
        });
        (currency, pricing)
    }

    /// The shared definition checks ([`campaign_definition::validate`]),
    /// each problem placed at its line, plus the config-only `contacts_file`.
    fn campaign(
        &mut self,
        i: usize,
        c: &RawCampaign,
        vendor_ids: &BTreeSet<String>,
        base_dir: &Path,
    ) -> Option<CampaignSettings> {
        let p = format!("campaigns[{i}]");
        let checked = campaign_definition::validate(&c.definition(), vendor_ids);
        if let Err(issues) = &checked {
            for issue in issues {
                let line = Some(self.line_at(c.span_of(&issue.field).start));
                self.issues.push(ConfigIssue {
                    path: format!("{p}.{}", issue.field),
                    line,
                    message: issue.message.clone(),
                });
            }
        }
        let mut contacts_file = None;
        let mut file_ok = true;
        if let Some(f) = &c.contacts_file {
            let path = base_dir.join(f.get_ref());
            if let Some(problem) = contacts_file_problem(f.get_ref(), &path) {
                self.issue(format!("{p}.contacts_file"), Some(f), problem);
                file_ok = false;
            }
            contacts_file = Some(path);
        }
        let refresh = c.refresh.as_ref().and_then(|r| self.refresh(&p, r, c.timezone.get_ref(), base_dir));
        let settings = checked.ok().filter(|_| file_ok)?;
        Some(CampaignSettings { contacts_file, refresh, ..settings })
    }
}

/// Start-up imports `contacts_file` and refuses to run when it cannot: the
/// file must open and have a `phone` column. The message shows the path as
/// start-up resolves it (relative to the config file's directory).
fn contacts_file_problem(given: &str, resolved: &Path) -> Option<String> {
    let shown = std::path::absolute(resolved).unwrap_or_else(|_| resolved.to_path_buf());
    let shown = if Path::new(given) == shown {
        format!("`{given}`")
    } else {
        format!("`{given}` (resolved from the config file's directory to {})", shown.display())
    };
    let problem = match std::fs::File::open(resolved) {
        Err(e) => format!("cannot be opened: {e}"),
        Ok(f) => {
            let mut csv = csv::ReaderBuilder::new().trim(csv::Trim::Fields).from_reader(std::io::BufReader::new(f));
            match csv.headers() {
                Err(e) => format!("CSV header: {e}"),
                Ok(h) => match Columns::find(&h.iter().collect::<Vec<_>>()) {
                    Ok(_) => return None,
                    Err(e) => format!("CSV header: {e}"),
                },
            }
        }
    };
    Some(format!("{shown}: {problem}"))
}

/// `"20/s"`, `"600/m"`, `"1000/h"` → requests per second.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let err = || format!("`{text}` is not a rate like 20/s, 600/m or 1000/h");
    let (n, unit) = text.split_once('/').ok_or_else(err)?;
    let n: f64 = n.trim().parse().map_err(|_| err())?;
    let per = match unit.trim() {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(err()),
    };
    if n <= 0.0 {
        return Err(err());
    }
    Ok(n / per)
}

/// Build the domain policy from its config/JSON form. Errors are
/// `(field path below recall, message)`.
pub fn recall_policy(cfg: &RecallConfig) -> Result<RecallPolicy, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let defaults = RecallPolicy::default_policy();
    let mut rules = Vec::new();
    for (i, rule) in cfg.rules.iter().enumerate() {
        if rule.when.is_empty() {
            errors.push((
                format!("rules[{i}].when"),
                "must list at least one disposition, intent or vendor:code".to_string(),
            ));
        }
        let mut when = Vec::new();
        for (j, m) in rule.when.iter().enumerate() {
            match Matcher::parse(m) {
                Ok(m) => when.push(m),
                Err(e) => errors.push((format!("rules[{i}].when[{j}]"), e.to_string())),
            }
        }
        match rule_action(rule) {
            Ok(action) => rules.push(RecallRule { when, action }),
            Err((field, msg)) => errors.push((format!("rules[{i}].{field}"), msg)),
        }
    }
    let default_action = match &cfg.default {
        None => defaults.default_action.clone(),
        Some(rule) => {
            if !rule.when.is_empty() {
                errors.push((
                    "default.when".to_string(),
                    "the default rule applies to everything; remove `when`".to_string(),
                ));
            }
            rule_action(rule).unwrap_or_else(|(field, msg)| {
                errors.push((format!("default.{field}"), msg));
                defaults.default_action.clone()
            })
        }
    };
    let max_attempts = cfg.max_attempts.unwrap_or(defaults.max_attempts);
    if max_attempts == 0 {
        errors.push(("max_attempts".to_string(), "must be at least 1".to_string()));
    }
    let vendor_failure_backoff = match &cfg.vendor_failure_backoff {
        None => defaults.vendor_failure_backoff,
        Some(text) => parse_duration(text).unwrap_or_else(|e| {
            errors.push(("vendor_failure_backoff".to_string(), e.to_string()));
            defaults.vendor_failure_backoff
        }),
    };
    let max_callback_delay = match &cfg.max_callback_delay {
        None => defaults.max_callback_delay,
        Some(text) => parse_duration(text).unwrap_or_else(|e| {
            errors.push(("max_callback_delay".to_string(), e.to_string()));
            defaults.max_callback_delay
        }),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(RecallPolicy {
        rules,
        max_attempts,
        default_action,
        vendor_failure_backoff,
        max_vendor_failures: cfg.max_vendor_failures.unwrap_or(defaults.max_vendor_failures),
        max_callback_delay,
    })
}

fn rule_action(rule: &RuleConfig) -> Result<RuleAction, (String, String)> {
    let action = rule.action.as_deref().unwrap_or(if rule.retry_after.is_some() { "retry" } else { "" });
    match action {
        "retry" => {
            let text = rule
                .retry_after
                .as_deref()
                .ok_or(("retry_after".to_string(), "a retry needs `retry_after` (e.g. \"30m\")".to_string()))?;
            let after = parse_duration(text).map_err(|e| ("retry_after".to_string(), e.to_string()))?;
            Ok(RuleAction::Retry { after, max: rule.max.unwrap_or(u32::MAX) })
        }
        "stop" => Ok(RuleAction::Stop),
        "suppress" => Ok(RuleAction::Suppress),
        "" => Err(("action".to_string(), "missing: `retry` (with retry_after), `stop` or `suppress`".to_string())),
        other => Err(("action".to_string(), format!("`{other}` is not `retry`, `stop` or `suppress`"))),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;

/// `<hostname>:<http port>`: unique among instances (two on one host listen
/// on different ports) and the same after a restart, so a restarted instance
/// recognizes the dispatch leases its previous run left behind.
fn default_instance_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "campaignd".to_string());
    format!("{host}:{port}")
}

//! The TOML document as written, before validation. Fields that need checking
//! beyond their TOML type are `Spanned` so errors can name the line.

use super::campaign_definition::CampaignDefinition;
use super::secret::SecretSource;
use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `"text"` or `"json"` (a top-level key: in the file it stands before
    /// the first `[table]`).
    pub log_format: Option<Spanned<String>>,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub scheduler: RawScheduler,
    #[serde(default)]
    pub vendors: Vec<RawVendor>,
    #[serde(default)]
    pub campaigns: Vec<RawCampaign>,
    #[serde(default)]
    pub compliance: RawCompliance,
    /// Results POSTed to the operator's URL (`[forwarding]`).
    pub forwarding: Option<RawForwarding>,
}

/// `[forwarding]` or `[campaigns.forwarding]`: see `config::validate::forwarding`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawForwarding {
    /// `false` turns a campaign's forwarding off (its own block only).
    pub enabled: Option<bool>,
    pub url: Option<Spanned<String>>,
    /// `"value"`, `{ env = "VAR" }` or `{ file = "/path" }`; `whsec_<base64>` or plain.
    pub secret: Option<Spanned<SecretSource>>,
    /// `["contact.final", "attempt.completed"]` (default `["contact.final"]`).
    pub events: Option<Vec<Spanned<String>>>,
    pub timeout: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
    pub backoff_base: Option<Spanned<String>>,
    pub backoff_cap: Option<Spanned<String>>,
}

/// Deployment-wide contact policy (`[compliance]`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCompliance {
    /// Dispatch stops this long before a calling window ends (`"1m"`).
    pub dispatch_margin: Option<Spanned<String>>,
    /// A number with a call in flight in another campaign waits this long (`"10m"`).
    pub busy_backoff: Option<Spanned<String>>,
    /// Frequency caps every campaign obeys (`["phone:3/24h", "phone:7/7d"]`).
    #[serde(default)]
    pub caps: Vec<Spanned<String>>,
    /// Holiday files (`country,date,name`) added to the built-in calendars.
    #[serde(default)]
    pub holiday_files: Vec<Spanned<String>>,
    /// Use only `holiday_files`, not the built-in calendars (to correct a
    /// built-in date: load a fixed copy of its file instead).
    pub builtin_holidays: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub url: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<u32>>,
    /// Connections the pool keeps open even when idle.
    pub min_connections: Option<Spanned<u32>>,
    /// How long one database call waits for a pooled connection, including
    /// reconnecting while the server is down (`"30s"`).
    pub acquire_timeout: Option<Spanned<String>>,
    /// How long start-up waits for the database to accept connections (`"30s"`).
    pub connect_timeout: Option<Spanned<String>>,
    /// An idle connection above `min_connections` is closed after this (`"10m"`).
    pub idle_timeout: Option<Spanned<String>>,
    /// A connection is replaced after this long, idle or not (`"30m"`).
    pub max_lifetime: Option<Spanned<String>>,
    /// PostgreSQL only: a statement running longer is cancelled by the server
    /// (`"30s"`; `"0s"` turns it off).
    pub statement_timeout: Option<Spanned<String>>,
    /// PostgreSQL only: how often the daemon looks for tables changed enough
    /// since their last `ANALYZE` to analyze them (`"1s"`; `"0s"` leaves it
    /// to autovacuum).
    pub analyze_every: Option<Spanned<String>>,
    /// PostgreSQL only: how many pages of the callback inbox one instance
    /// applies at once (default 2; SQLite applies one at a time).
    pub inbox_workers: Option<Spanned<u32>>,
    /// SQLite `synchronous` pragma: `full` (default: a 2xx'd callback survives
    /// power loss) or `normal` (survives process crashes only).
    pub sqlite_synchronous: Option<Spanned<String>>,
    pub busy_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: Option<Spanned<String>>,
    /// Base URL vendors use to reach us (callbacks); defaults to `http://<listen>`.
    pub public_url: Option<Spanned<String>>,
    pub max_body_bytes: Option<usize>,
    /// Open connections at most; more wait in the accept backlog.
    pub max_connections: Option<usize>,
    /// Open connections from one IP address at most; more are closed at once.
    pub max_connections_per_peer: Option<Spanned<usize>>,
    /// A connection that has not sent a request's complete headers within this
    /// is closed (`"10s"`); it also bounds idle keep-alive time.
    pub header_read_timeout: Option<Spanned<String>>,
    /// A request whose whole body has not arrived within this gets 408 (`"30s"`).
    pub body_read_timeout: Option<Spanned<String>>,
    /// Rejected unauthenticated callbacks kept for audit per peer per minute;
    /// the rest are only counted.
    pub rejected_audit_per_peer_per_minute: Option<Spanned<u32>>,
    /// The largest contact upload accepted (`POST /api/v1/campaigns/{name}/contacts`), in bytes.
    pub max_upload_bytes: Option<Spanned<u64>>,
    pub admin_token: Option<Spanned<SecretSource>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawScheduler {
    pub tick: Option<Spanned<String>>,
    pub claim_batch: Option<u32>,
    pub dispatch_timeout: Option<Spanned<String>>,
    pub result_timeout: Option<Spanned<String>>,
    pub lost_after: Option<Spanned<String>>,
    pub reconcile_every: Option<Spanned<String>>,
    /// This instance's name in leases (default `<hostname>:<http port>`).
    pub instance_id: Option<Spanned<String>>,
    /// How long the leader lease lasts without renewal: the longest the
    /// sweeps pause when the leader dies.
    pub leader_lease: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVendor {
    pub id: Spanned<String>,
    pub kind: Spanned<String>,
    pub base_url: Option<Spanned<String>>,
    /// Laaffic/ITNIO `Api-Key`, Blu `appId`, AIRudder `APPKey`, smartivr bearer token, sim bearer token.
    pub api_key: Option<Spanned<SecretSource>>,
    /// Laaffic/ITNIO `apiSecret`, Blu `appKey`, AIRudder `APPSecret`.
    pub api_secret: Option<Spanned<SecretSource>>,
    /// Key of the vendor's callback signature, where the vendor signs (sim, AIRudder).
    pub callback_secret: Option<Spanned<SecretSource>>,
    /// Secret the vendor must send back as `?token=` in the callback URL; required
    /// for vendors that do not sign their callbacks.
    pub callback_token: Option<Spanned<SecretSource>>,
    /// Source networks callbacks may come from (CIDRs); empty = any.
    #[serde(default)]
    pub callback_allow_ips: Vec<Spanned<String>>,
    /// How long a vendor stays out of rotation after a fatal error (`"5m"`).
    pub circuit_cooldown: Option<Spanned<String>>,
    pub max_concurrency: Option<u32>,
    /// `"20/s"`, `"600/m"`.
    pub rate_limit: Option<Spanned<String>>,
    pub request_timeout: Option<Spanned<String>>,
    /// Run a simulator of this vendor kind inside the daemon on this address
    /// (the sim, or a protocol-faithful fake of a real vendor); `base_url` then points at it.
    pub embedded_listen: Option<Spanned<String>>,
    /// `sim` only: simulator behaviour.
    pub sim: Option<toml::Value>,
    /// Real kinds with `embedded_listen`: behaviour of the embedded fake.
    pub fake: Option<toml::Value>,
    /// Kind-specific settings (paths, robot ids, assumptions about undocumented
    /// behaviour); see docs/vendors/.
    pub options: Option<toml::Table>,
    /// Vendor tag → normalized intent (`投诉 = "complaint"`), on top of the
    /// built-in table (`domain::tags::DEFAULT_TAGS`).
    #[serde(default)]
    pub tag_intents: std::collections::BTreeMap<String, Spanned<String>>,
    /// What one minute of billed call time costs (a decimal, `"0.012"`),
    /// for vendors whose results carry no cost.
    pub price_per_minute: Option<Spanned<String>>,
    /// ISO 4217 code of `price_per_minute` and of costs the vendor reports
    /// without naming a currency (Laaffic `cost`); `USD` by default.
    pub currency: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCampaign {
    pub name: Spanned<String>,
    pub timezone: Spanned<String>,
    pub windows: Spanned<String>,
    #[serde(default)]
    pub blackout_dates: Vec<Spanned<String>>,
    pub starts_at: Option<Spanned<String>>,
    pub ends_at: Option<Spanned<String>>,
    pub max_concurrency: Option<u32>,
    pub vendors: Spanned<Vec<RawVendorRoute>>,
    pub default_country_code: Option<Spanned<String>>,
    /// CSV file imported at start-up (idempotent: known phones are skipped).
    pub contacts_file: Option<Spanned<String>>,
    #[serde(default)]
    pub recall: Option<Spanned<RawRecallTable>>,
    /// `same`, `rotate` or `failover` (default).
    pub redial_strategy: Option<Spanned<String>>,
    /// Let vendors use their own redial features (default false: the daemon's
    /// recall rules decide every redial).
    pub vendor_redial: Option<bool>,
    /// Legal profiles (`["us-reg-f"]`): their windows, holidays and caps
    /// narrow the campaign's.
    #[serde(default)]
    pub profiles: Vec<Spanned<String>>,
    /// Frequency caps of this campaign (`["phone:3/24h"]`), counted over the
    /// dials of every campaign.
    #[serde(default)]
    pub caps: Vec<Spanned<String>>,
    /// This campaign's own forwarding, replacing `[forwarding]` (config only).
    pub forwarding: Option<RawForwarding>,
    /// Scheduled contact refresh from a drop folder or a URL
    /// (docs/crm-refresh.md); config-only, like `contacts_file`.
    pub refresh: Option<Spanned<RawRefresh>>,
}

/// `[campaigns.refresh]`: a cron schedule, a source, and what happens to
/// contacts the source no longer lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefresh {
    /// 6-field cron with seconds (`"0 30 7 * * Mon-Sat"`), in the campaign's zone.
    pub schedule: Spanned<String>,
    pub source: Spanned<RawRefreshSource>,
    /// `"stop"` or `"keep"` (required: a declared policy).
    pub on_removed: Option<Spanned<String>>,
    /// A firing missed while no daemon ran is run at start-up if no older
    /// than this (`"15m"`, the default).
    pub grace: Option<Spanned<String>>,
}

/// `{ glob = "/srv/drop/*.csv" }` or `{ url = "https://...", bearer_token = { env = "..." } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRefreshSource {
    pub glob: Option<String>,
    pub url: Option<String>,
    pub bearer_token: Option<SecretSource>,
    pub basic_user: Option<String>,
    pub basic_password: Option<SecretSource>,
    /// The whole download's time limit (`"60s"`, the default).
    pub timeout: Option<String>,
}

impl RawCampaign {
    /// The definition without its spans, as [`validate`] reads it (and the
    /// admin API receives it).
    ///
    /// [`validate`]: super::campaign_definition::validate
    pub fn definition(&self) -> CampaignDefinition {
        let text = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.get_ref().clone());
        let list = |items: &[Spanned<String>]| items.iter().map(|s| s.get_ref().clone()).collect();
        CampaignDefinition {
            name: self.name.get_ref().clone(),
            timezone: self.timezone.get_ref().clone(),
            windows: self.windows.get_ref().clone(),
            blackout_dates: list(&self.blackout_dates),
            starts_at: text(&self.starts_at),
            ends_at: text(&self.ends_at),
            max_concurrency: self.max_concurrency,
            vendors: self.vendors.get_ref().clone(),
            default_country_code: text(&self.default_country_code),
            recall: self.recall.as_ref().map(|r| r.get_ref().config()),
            redial_strategy: text(&self.redial_strategy),
            vendor_redial: self.vendor_redial,
            profiles: list(&self.profiles),
            caps: list(&self.caps),
        }
    }

    /// Where the field a problem names (`blackout_dates[1]`,
    /// `recall.rules[0].action`, `vendors[2].weight`) is written; the
    /// campaign's `name` when the field is not written (a default).
    pub fn span_of(&self, field: &str) -> std::ops::Range<usize> {
        let (head, rest) = field.split_once('.').unwrap_or((field, ""));
        let top = head.split('[').next().unwrap_or(head);
        let item = |items: &[Spanned<String>]| {
            let i = head.strip_prefix(top)?.trim_start_matches('[').trim_end_matches(']').parse::<usize>().ok()?;
            items.get(i).map(Spanned::span)
        };
        let span = match top {
            "timezone" => Some(self.timezone.span()),
            "windows" => Some(self.windows.span()),
            "blackout_dates" => item(&self.blackout_dates),
            "starts_at" => self.starts_at.as_ref().map(Spanned::span),
            "ends_at" => self.ends_at.as_ref().map(Spanned::span),
            "vendors" => Some(self.vendors.span()),
            "default_country_code" => self.default_country_code.as_ref().map(Spanned::span),
            "recall" => self.recall.as_ref().map(|t| RawRecallTable::span_of(t, rest)),
            "redial_strategy" => self.redial_strategy.as_ref().map(Spanned::span),
            "profiles" => item(&self.profiles),
            "caps" => item(&self.caps),
            "contacts_file" => self.contacts_file.as_ref().map(Spanned::span),
            "refresh" => self.refresh.as_ref().map(Spanned::span),
            _ => None,
        };
        span.unwrap_or_else(|| self.name.span())
    }
}

/// `"sim"` or `{ id = "sim", weight = 3 }`. (Plain strings: toml's spans do
/// not survive untagged enums, so errors use the span of the whole list.)
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[schema(as = CampaignVendorRoute)]
pub enum RawVendorRoute {
    Id(String),
    Weighted { id: String, weight: u32 },
}

/// `[campaigns.recall]` as written in TOML: [`RawRecall`] with the spans
/// that let an error point at the rule's own line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecallTable {
    pub max_attempts: Option<Spanned<u32>>,
    #[serde(default)]
    pub rules: Vec<Spanned<RawRule>>,
    pub default: Option<Spanned<RawRule>>,
    pub vendor_failure_backoff: Option<Spanned<String>>,
    pub max_vendor_failures: Option<Spanned<u32>>,
    pub max_callback_delay: Option<Spanned<String>>,
}

impl RawRecallTable {
    /// The plain shape, as the database stores it.
    pub fn config(&self) -> RawRecall {
        let text = |s: &Option<Spanned<String>>| s.as_ref().map(|s| s.get_ref().clone());
        RawRecall {
            max_attempts: self.max_attempts.as_ref().map(|n| *n.get_ref()),
            rules: self.rules.iter().map(|r| r.get_ref().clone()).collect(),
            default: self.default.as_ref().map(|r| r.get_ref().clone()),
            vendor_failure_backoff: text(&self.vendor_failure_backoff),
            max_vendor_failures: self.max_vendor_failures.as_ref().map(|n| *n.get_ref()),
            max_callback_delay: text(&self.max_callback_delay),
        }
    }

    /// Where the setting an error names (`rules[2].when[0]`, `max_attempts`)
    /// is written; the table's own span when it is not written (a default).
    pub fn span_of(table: &Spanned<RawRecallTable>, field: &str) -> std::ops::Range<usize> {
        let t = table.get_ref();
        let rule = field.strip_prefix("rules[").and_then(|r| r.split(']').next()).and_then(|i| i.parse::<usize>().ok());
        let span = match field.split(['.', '[']).next().unwrap_or(field) {
            "rules" => rule.and_then(|i| t.rules.get(i)).map(Spanned::span),
            "default" => t.default.as_ref().map(Spanned::span),
            "max_attempts" => t.max_attempts.as_ref().map(Spanned::span),
            "vendor_failure_backoff" => t.vendor_failure_backoff.as_ref().map(Spanned::span),
            "max_vendor_failures" => t.max_vendor_failures.as_ref().map(Spanned::span),
            "max_callback_delay" => t.max_callback_delay.as_ref().map(Spanned::span),
            _ => None,
        };
        span.unwrap_or_else(|| table.span())
    }
}

/// The recall policy in the shape stored as JSON in `campaigns.recall_policy`.
#[derive(Debug, Deserialize, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CampaignRecall)]
pub struct RawRecall {
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub rules: Vec<RawRule>,
    pub default: Option<RawRule>,
    pub vendor_failure_backoff: Option<String>,
    pub max_vendor_failures: Option<u32>,
    /// Furthest ahead a callee's requested callback time may put a retry ("14d").
    pub max_callback_delay: Option<String>,
}

#[derive(Debug, Deserialize, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CampaignRecallRule)]
pub struct RawRule {
    #[serde(default)]
    pub when: Vec<String>,
    /// `retry` (default when `retry_after` is given), `stop` or `suppress`.
    pub action: Option<String>,
    pub retry_after: Option<String>,
    pub max: Option<u32>,
}

//! One campaign's definition — the fields of a `[[campaigns]]` table — and
//! the one validation that config.toml and the admin API both run on it, so
//! a campaign means the same and is refused for the same reasons whichever
//! way it was written. Problems name the field below the campaign
//! (`recall.max_attempts`, `vendors[1]`); config adds `campaigns[i].` and the
//! line, the API answers them as JSON.

use super::raw::{RawRecall, RawVendorRoute};
use super::validate::CampaignSettings;
use crate::domain::compliance::caps::parse_rules;
use crate::domain::compliance::profiles::profile;
use crate::domain::routing::RedialStrategy;
use crate::domain::window::{CallingWindows, parse_tz};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use utoipa::ToSchema;

/// A campaign as an admin writes it: the keys of a `[[campaigns]]` table in
/// config.toml (without `contacts_file`, which names a file on the daemon's
/// host: contacts come through `campaignd import`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "collections-dec",
    "timezone": "Asia/Jakarta",
    "windows": "mon-fri 09:00-12:00,13:00-20:00",
    "vendors": ["sim", {"id": "sim-b", "weight": 3}],
    "max_concurrency": 20,
    "recall": {"max_attempts": 3, "rules": [{"when": ["no_answer"], "retry_after": "2h"}]}
}))]
pub struct CampaignDefinition {
    /// 1 to 100 characters; unique.
    pub name: String,
    /// IANA zone for contacts without one of their own (`Asia/Jakarta`).
    pub timezone: String,
    /// Weekly calling windows (`mon-fri 09:00-12:00,13:00-20:00`).
    pub windows: String,
    /// Local dates without calls (`2026-12-25`).
    #[serde(default)]
    pub blackout_dates: Vec<String>,
    /// RFC 3339; the campaign starts dialing then (default: at once).
    pub starts_at: Option<String>,
    /// RFC 3339; after `starts_at`.
    pub ends_at: Option<String>,
    /// Calls in flight at most (default 10).
    #[schema(minimum = 0)]
    pub max_concurrency: Option<u32>,
    /// Configured vendor ids, each `"id"` or `{"id": "id", "weight": 3}`.
    pub vendors: Vec<RawVendorRoute>,
    /// Country calling code for numbers imported without `+` (`62`).
    pub default_country_code: Option<String>,
    /// The `[campaigns.recall]` table.
    pub recall: Option<RawRecall>,
    /// `same`, `rotate` or `failover` (default).
    pub redial_strategy: Option<String>,
    /// Let vendors use their own redial features (default false).
    pub vendor_redial: Option<bool>,
    /// Legal profiles (`["us-reg-f"]`).
    #[serde(default)]
    pub profiles: Vec<String>,
    /// This campaign's frequency caps (`["phone:3/24h"]`).
    #[serde(default)]
    pub caps: Vec<String>,
}

/// One problem with a definition: the field below the campaign, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldIssue {
    /// `timezone`, `vendors[1]`, `recall.rules[0].retry_after`, ...
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    fn new(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
        FieldIssue { field: field.into(), message: message.into() }
    }
}

/// Most calls in flight one campaign may set: the column is a 32-bit
/// integer, and no deployment dials a million calls at once.
pub const MAX_CONCURRENCY: u32 = 1_000_000;

/// A short hash of a definition, the ETag of its API resource: an unchanged
/// definition always gives the same value, any change a new one.
pub fn fingerprint(def: &CampaignDefinition) -> String {
    let json = serde_json::to_vec(def).unwrap_or_default();
    format!("\"{}\"", hex::encode(&Sha256::digest(&json)[..12]))
}

/// Check every field of `def` against the vendors that exist; every problem
/// is reported, not only the first. The settings carry no `contacts_file`.
pub fn validate(def: &CampaignDefinition, vendor_ids: &BTreeSet<String>) -> Result<CampaignSettings, Vec<FieldIssue>> {
    let mut issues = Vec::new();
    let name = def.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        issues.push(FieldIssue::new("name", "must be 1 to 100 characters"));
    }
    let timezone = parse_tz(&def.timezone).map_err(|e| issues.push(FieldIssue::new("timezone", e.to_string()))).ok();
    let mut blackout_dates = Vec::new();
    for (j, d) in def.blackout_dates.iter().enumerate() {
        match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(date) => blackout_dates.push(date),
            Err(_) => issues
                .push(FieldIssue::new(format!("blackout_dates[{j}]"), format!("`{d}` is not a date like 2026-12-25"))),
        }
    }
    let windows = CallingWindows::parse(&def.windows)
        .map_err(|e| issues.push(FieldIssue::new("windows", e.to_string())))
        .ok()
        .map(|w| w.with_blackout_dates(blackout_dates.iter().copied()));
    let starts_at = instant("starts_at", &def.starts_at, &mut issues);
    let ends_at = instant("ends_at", &def.ends_at, &mut issues);
    if let (Some(s), Some(e)) = (starts_at, ends_at)
        && e <= s
    {
        issues.push(FieldIssue::new("ends_at", "must be after starts_at"));
    }
    if def.max_concurrency.is_some_and(|n| n > MAX_CONCURRENCY) {
        issues.push(FieldIssue::new("max_concurrency", format!("must be at most {MAX_CONCURRENCY}")));
    }
    let vendors = vendor_routes(&def.vendors, vendor_ids, &mut issues);
    let default_country_code = def.default_country_code.as_ref().map(|cc| {
        let digits = cc.trim_start_matches('+').to_string();
        if digits.is_empty() || digits.len() > 3 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
            issues.push(FieldIssue::new("default_country_code", "must be 1 to 3 digits, like 62 or 1"));
        }
        digits
    });
    let recall = def.recall.clone().unwrap_or_else(|| RawRecall {
        max_attempts: None,
        rules: vec![],
        default: None,
        vendor_failure_backoff: None,
        max_vendor_failures: None,
        max_callback_delay: None,
    });
    let recall_policy = super::validate::recall_policy(&recall)
        .map_err(|errs| issues.extend(errs.into_iter().map(|(f, m)| FieldIssue::new(format!("recall.{f}"), m))))
        .ok();
    let redial_strategy = match &def.redial_strategy {
        None => Some(RedialStrategy::DEFAULT),
        Some(s) => s
            .parse::<RedialStrategy>()
            .map_err(|_| {
                issues.push(FieldIssue::new("redial_strategy", format!("`{s}` is not one of same, rotate, failover")))
            })
            .ok(),
    };
    let mut profiles = Vec::new();
    for (j, name) in def.profiles.iter().enumerate() {
        match profile(name) {
            Ok(p) if !profiles.contains(&p) => profiles.push(p),
            Ok(_) => {}
            Err(e) => issues.push(FieldIssue::new(format!("profiles[{j}]"), e.to_string())),
        }
    }
    let mut caps = Vec::new();
    for (j, item) in def.caps.iter().enumerate() {
        match parse_rules(item) {
            Ok(rules) => caps.extend(rules),
            Err(e) => issues.push(FieldIssue::new(format!("caps[{j}]"), e.to_string())),
        }
    }
    let (Some(timezone), Some(windows), Some(recall_policy), Some(redial_strategy), true) =
        (timezone, windows, recall_policy, redial_strategy, issues.is_empty())
    else {
        return Err(issues);
    };
    Ok(CampaignSettings {
        name,
        timezone,
        windows_spec: def.windows.clone(),
        windows,
        blackout_dates,
        starts_at,
        ends_at,
        // As config always has: 0 reads as 1.
        max_concurrency: def.max_concurrency.unwrap_or(10).max(1),
        vendors,
        default_country_code,
        contacts_file: None,
        refresh: None,
        recall,
        recall_policy,
        redial_strategy,
        vendor_redial: def.vendor_redial.unwrap_or(false),
        profiles,
        caps,
    })
}

fn vendor_routes(
    routes: &[RawVendorRoute],
    vendor_ids: &BTreeSet<String>,
    issues: &mut Vec<FieldIssue>,
) -> Vec<(String, u32)> {
    if routes.is_empty() {
        issues.push(FieldIssue::new("vendors", "at least one vendor is required"));
    }
    let mut out = Vec::new();
    for (j, route) in routes.iter().enumerate() {
        let (id, weight) = match route {
            RawVendorRoute::Id(id) => (id, 1),
            RawVendorRoute::Weighted { id, weight } => (id, *weight),
        };
        if !vendor_ids.contains(id) {
            issues.push(FieldIssue::new(format!("vendors[{j}]"), format!("no vendor with id `{id}` is configured")));
        }
        if weight == 0 {
            issues.push(FieldIssue::new(format!("vendors[{j}].weight"), "must be at least 1"));
        }
        out.push((id.clone(), weight));
    }
    out
}

fn instant(field: &str, value: &Option<String>, issues: &mut Vec<FieldIssue>) -> Option<DateTime<Utc>> {
    let text = value.as_ref()?;
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            issues.push(FieldIssue::new(
                field,
                format!("`{text}` is not an RFC 3339 instant like 2026-12-01T09:00:00+07:00"),
            ));
            None
        }
    }
}

#[cfg(test)]
#[path = "campaign_definition_tests.rs"]
mod tests;

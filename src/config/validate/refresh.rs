//! `[campaigns.refresh]`: the schedule, source and policy of a campaign's
//! scheduled contact refresh (docs/crm-refresh.md). Every problem names its
//! field (`campaigns[0].refresh.schedule`) and line.

use super::Validator;
use crate::config::Secret;
use crate::config::raw::RawRefresh;
use crate::domain::contact_refresh::{OnRemoved, RefreshSchedule};
use crate::domain::duration::parse_duration;
use crate::domain::window::parse_tz;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

#[derive(Debug, Clone)]
pub struct RefreshSettings {
    pub schedule: RefreshSchedule,
    pub source: RefreshSource,
    pub on_removed: OnRemoved,
    /// How old a firing missed during downtime may be and still run at start-up.
    pub grace: Duration,
}

/// Where a refresh reads the campaign's current list.
#[derive(Debug, Clone)]
pub enum RefreshSource {
    /// The newest file (by modification time) matching the pattern: the CRM
    /// writes a full export each time.
    Glob { pattern: String },
    /// A CSV answered by `GET url`.
    Url { url: reqwest::Url, auth: UrlAuth, timeout: Duration },
}

impl RefreshSource {
    /// What the run records show: the pattern or the URL, never a credential
    /// (a URL's user and password, if written in it, are left out).
    pub fn describe(&self) -> String {
        match self {
            RefreshSource::Glob { pattern } => pattern.clone(),
            RefreshSource::Url { url, .. } => {
                let mut shown = url.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                shown.to_string()
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum UrlAuth {
    None,
    Bearer(Secret),
    Basic { user: String, password: Secret },
}

/// Grace of a missed firing when none is written.
const DEFAULT_GRACE: Duration = Duration::from_secs(15 * 60);
/// Time limit of a download when none is written.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

impl Validator<'_> {
    pub(super) fn refresh(
        &mut self,
        campaign: &str,
        raw: &Spanned<RawRefresh>,
        timezone: &str,
        base_dir: &Path,
    ) -> Option<RefreshSettings> {
        let p = format!("{campaign}.refresh");
        let r = raw.get_ref();
        // A zone that does not read is reported as the campaign's own problem.
        let tz = parse_tz(timezone).unwrap_or(chrono_tz::UTC);
        let schedule = match RefreshSchedule::parse(r.schedule.get_ref(), tz) {
            Ok(s) => Some(s),
            Err(e) => {
                self.issue(format!("{p}.schedule"), Some(&r.schedule), e);
                None
            }
        };
        let on_removed = match &r.on_removed {
            None => {
                let why = "required: \"stop\" (contacts the source no longer lists are never dialed again) \
                           or \"keep\"";
                self.issue(format!("{p}.on_removed"), Some(raw), why);
                None
            }
            Some(s) => match OnRemoved::parse(s.get_ref()) {
                Ok(policy) => Some(policy),
                Err(e) => {
                    self.issue(format!("{p}.on_removed"), Some(s), e);
                    None
                }
            },
        };
        let grace = match &r.grace {
            None => DEFAULT_GRACE,
            Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|e| {
                self.issue(format!("{p}.grace"), Some(s), e.to_string());
                DEFAULT_GRACE
            }),
        };
        let source = self.refresh_source(&p, &r.source, base_dir);
        Some(RefreshSettings { schedule: schedule?, source: source?, on_removed: on_removed?, grace })
    }

    fn refresh_source(
        &mut self,
        p: &str,
        raw: &Spanned<super::super::raw::RawRefreshSource>,
        base_dir: &Path,
    ) -> Option<RefreshSource> {
        let s = raw.get_ref();
        let problem = |v: &mut Self, field: &str, message: String| {
            v.issue(format!("{p}.source.{field}"), Some(raw), message);
        };
        let has_auth = s.bearer_token.is_some() || s.basic_user.is_some() || s.basic_password.is_some();
        match (&s.glob, &s.url) {
            (Some(_), Some(_)) | (None, None) => {
                problem(self, "glob", "give exactly one of `glob` (a drop folder) or `url`".into());
                None
            }
            (Some(glob), None) => {
                if has_auth || s.timeout.is_some() {
                    problem(self, "glob", "a file source takes no credentials or timeout (those are for `url`)".into());
                }
                let pattern = base_dir.join(glob).display().to_string();
                match glob::Pattern::new(&pattern) {
                    Ok(_) => Some(RefreshSource::Glob { pattern }),
                    Err(e) => {
                        problem(self, "glob", format!("`{glob}` is not a file pattern: {e}"));
                        None
                    }
                }
            }
            (None, Some(url)) => {
                let url = match reqwest::Url::parse(url) {
                    Ok(u) if matches!(u.scheme(), "https" | "http") => u,
                    Ok(u) => {
                        problem(self, "url", format!("scheme `{}` is not supported: use https (or http)", u.scheme()));
                        return None;
                    }
                    Err(e) => {
                        problem(self, "url", format!("`{url}` is not a URL: {e}"));
                        return None;
                    }
                };
                let auth = self.url_auth(p, raw)?;
                let timeout = match &s.timeout {
                    None => DEFAULT_TIMEOUT,
                    Some(t) => match parse_duration(t) {
                        Ok(d) if !d.is_zero() => d,
                        Ok(_) => {
                            problem(self, "timeout", "must be greater than zero".into());
                            DEFAULT_TIMEOUT
                        }
                        Err(e) => {
                            problem(self, "timeout", e.to_string());
                            DEFAULT_TIMEOUT
                        }
                    },
                };
                Some(RefreshSource::Url { url, auth, timeout })
            }
        }
    }

    fn url_auth(&mut self, p: &str, raw: &Spanned<super::super::raw::RawRefreshSource>) -> Option<UrlAuth> {
        let s = raw.get_ref();
        let resolve = |v: &mut Self, field: &str, src: &crate::config::secret::SecretSource| match src.resolve() {
            Ok(secret) => Some(secret),
            Err(e) => {
                v.issue(format!("{p}.source.{field}"), Some(raw), e.to_string());
                None
            }
        };
        match (&s.bearer_token, &s.basic_user, &s.basic_password) {
            (None, None, None) => Some(UrlAuth::None),
            (Some(token), None, None) => resolve(self, "bearer_token", token).map(UrlAuth::Bearer),
            (None, Some(user), Some(password)) => {
                let password = resolve(self, "basic_password", password)?;
                Some(UrlAuth::Basic { user: user.clone(), password })
            }
            (Some(_), _, _) => {
                let why = "give either `bearer_token` or `basic_user` with `basic_password`, not both";
                self.issue(format!("{p}.source.bearer_token"), Some(raw), why);
                None
            }
            (None, _, _) => {
                self.issue(
                    format!("{p}.source.basic_user"),
                    Some(raw),
                    "basic authentication needs both `basic_user` and `basic_password`",
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, Settings, parse};
    use std::path::Path;

    fn campaign(refresh: &str) -> Result<Settings, ConfigError> {
        let text = format!(
            "[[vendors]]\nid = \"sim\"\nkind = \"sim\"\nbase_url = \"http://127.0.0.1:1\"\n\n[[campaigns]]\nname = \"c\"\ntimezone = \"Asia/Jakarta\"\n\
             windows = \"Mon-Sun 00:00-24:00\"\nvendors = [\"sim\"]\n\n[campaigns.refresh]\n{refresh}\n"
        );
        parse(&text, Path::new("test.toml"), Path::new("/etc/campaignd"), &crate::config::validate::NoVendorChecks)
    }

    fn problems(refresh: &str) -> String {
        campaign(refresh).unwrap_err().to_string()
    }

    #[test]
    fn a_drop_folder_refresh_reads_with_its_defaults() {
        let s =
            campaign("schedule = \"0 30 7 * * Mon-Sat\"\nsource = { glob = \"drop/*.csv\" }\non_removed = \"stop\"")
                .unwrap();
        let r = s.campaigns[0].refresh.as_ref().unwrap();
        assert_eq!(r.schedule.text(), "0 30 7 * * Mon-Sat");
        assert_eq!(r.schedule.tz, chrono_tz::Asia::Jakarta);
        assert_eq!(r.source.describe(), "/etc/campaignd/drop/*.csv", "relative to the config's directory");
        assert_eq!(r.grace, std::time::Duration::from_secs(900));
    }

    #[test]
    fn each_problem_names_its_field_and_line() {
        let e = problems("schedule = \"30 7 * * *\"\nsource = { glob = \"/srv/*.csv\" }\non_removed = \"delete\"");
        assert!(e.contains("campaigns[0].refresh.schedule") && e.contains("5 field(s)"), "{e}");
        assert!(e.contains("campaigns[0].refresh.on_removed") && e.contains("\"stop\" or \"keep\""), "{e}");
        assert!(e.contains("line 13: campaigns[0].refresh.schedule"), "the schedule's line: {e}");
        let e = problems("schedule = \"0 0 7 * * *\"\nsource = { glob = \"/srv/*.csv\" }");
        assert!(e.contains("campaigns[0].refresh.on_removed: required"), "{e}");
        let e = problems("schedule = \"0 0 7 * * *\"\nsource = { }\non_removed = \"keep\"");
        assert!(e.contains("refresh.source.glob") && e.contains("exactly one of"), "{e}");
        let e = problems("schedule = \"0 0 7 * * *\"\nsource = { url = \"ftp://x/y.csv\" }\non_removed = \"keep\"");
        assert!(e.contains("refresh.source.url") && e.contains("scheme `ftp`"), "{e}");
        let e = problems(
            "schedule = \"0 0 7 * * *\"\nsource = { url = \"https://crm/x.csv\", basic_user = \"u\" }\non_removed = \"keep\"",
        );
        assert!(e.contains("refresh.source.basic_user") && e.contains("needs both"), "{e}");
        let e = problems(
            "schedule = \"0 0 7 * * *\"\nsource = { url = \"https://crm/x.csv\", bearer_token = { env = \"CAMPAIGND_SURELY_UNSET_TOKEN\" } }\non_removed = \"keep\"",
        );
        assert!(e.contains("refresh.source.bearer_token") && e.contains("CAMPAIGND_SURELY_UNSET_TOKEN"), "{e}");
    }

    #[test]
    fn a_url_is_shown_without_credentials() {
        let s = campaign(
            "schedule = \"0 0 7 * * *\"\nsource = { url = \"https://me:pw@crm.example/x.csv\", bearer_token = \"t0k3n\" }\non_removed = \"keep\"",
        )
        .unwrap();
        let shown = s.campaigns[0].refresh.as_ref().unwrap().source.describe();
        assert_eq!(shown, "https://crm.example/x.csv");
    }
}

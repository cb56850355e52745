//! Test doubles running inside the daemon (`embedded_listen`): the `sim`
//! vendor's server, or a protocol-faithful fake of a real kind, both from
//! the `doubles` crate. They come with the `doubles` feature (on by default:
//! the demo config runs the sim and a Blu fake); without it the daemon
//! carries no test double and `embedded_listen` is a config error.

use crate::config::VendorSettings;

/// A double running inside the daemon; the registry keeps it alive (and
/// hands it on across reloads). Without the `doubles` feature there is none.
pub enum Embedded {
    #[cfg(feature = "doubles")]
    Sim(doubles::sim::SimHandle),
    #[cfg(feature = "doubles")]
    Fake(doubles::FakeHandle),
}

/// Problems with a vendor's `sim` and `fake` tables and its
/// `embedded_listen`, as `(field, message)`; `real` says the kind is a real
/// vendor's (not the sim).
pub fn check(v: &VendorSettings, real: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if v.fake.is_some() && !real {
        out.push(("fake".into(), "`fake` is for real vendor kinds; the sim uses `sim`".into()));
    }
    #[cfg(feature = "doubles")]
    {
        if v.kind == super::kinds::SIM
            && let Err(e) = sim_settings(v)
        {
            out.push(("sim".into(), e));
        }
        if let Some(kind) = doubles::kinds::find(&v.kind)
            && let Err(e) = fake_behavior(v, kind)
        {
            out.push(("fake".into(), e));
        }
    }
    #[cfg(not(feature = "doubles"))]
    if v.embedded_listen.is_some() {
        out.push((
            "embedded_listen".into(),
            "`embedded_listen` needs a build with the `doubles` feature (this binary has no simulator or vendor fake)"
                .into(),
        ));
    }
    out
}

/// The account a fake of vendor `v` serves: the credentials the adapter
/// signs with, and the vendor's `options`.
#[cfg(any(test, feature = "doubles"))]
pub fn fake_config(v: &VendorSettings) -> doubles::FakeConfig {
    let secret = crate::config::Secret::exposed_or_empty;
    doubles::FakeConfig {
        api_key: secret(&v.api_key),
        api_secret: secret(&v.api_secret),
        callback_secret: v.callback_secret.as_ref().map(|s| s.expose().to_string()),
        options: v.options.clone(),
    }
}

/// `[vendors.sim]` as the simulator's settings (an absent table: its defaults).
#[cfg(feature = "doubles")]
fn sim_settings(v: &VendorSettings) -> Result<doubles::sim::SimSettings, String> {
    let table = v.sim.clone().unwrap_or(toml::Value::Table(Default::default()));
    let settings: doubles::sim::SimSettings =
        table.try_into().map_err(|e: toml::de::Error| e.to_string().trim_end().to_string())?;
    settings.validate()?;
    Ok(settings)
}

/// `[vendors.fake]` as the fake's behaviour (an absent table: its defaults).
#[cfg(feature = "doubles")]
fn fake_behavior(v: &VendorSettings, kind: &doubles::kinds::Kind) -> Result<doubles::FakeBehavior, String> {
    match &v.fake {
        None => Ok(doubles::FakeBehavior::default()),
        Some(table) => kind.behavior(table.clone()),
    }
}

/// Start vendor `v`'s double on `listener`; returns its base URL. A fake
/// pushes its results to our `{callback_base}/callbacks/{vendor_id}` (with
/// the vendor's `callback_token`) unless its `fake` table names a URL.
#[cfg(feature = "doubles")]
pub async fn start(
    v: &VendorSettings,
    listener: tokio::net::TcpListener,
    callback_base: &str,
) -> anyhow::Result<(String, Embedded)> {
    let secret = crate::config::Secret::exposed_or_empty;
    if v.kind == super::kinds::SIM {
        let mut settings = sim_settings(v).map_err(|e| anyhow::anyhow!("vendor {}: sim: {e}", v.id))?;
        // Nothing in the daemon reads the sim's delivery log, which would
        // otherwise grow by a record per callback for as long as it runs.
        settings.record_deliveries = false;
        let auth = doubles::sim::SimAuth { api_key: secret(&v.api_key), callback_secret: secret(&v.callback_secret) };
        let handle = doubles::sim::spawn(settings, auth, listener).await?;
        let url = handle.base_url();
        tracing::info!(vendor = %v.id, %url, "embedded simulator started");
        return Ok((url, Embedded::Sim(handle)));
    }
    let Some(kind) = doubles::kinds::find(&v.kind) else {
        anyhow::bail!("vendor {}: kind `{}` has no fake to run inside the daemon", v.id, v.kind)
    };
    let mut behavior = fake_behavior(v, kind).map_err(|e| anyhow::anyhow!("vendor {}: fake: {e}", v.id))?;
    if behavior.callback_url.is_none() {
        let url = format!("{callback_base}/callbacks/{}", v.id);
        behavior.callback_url = Some(match &v.callback_token {
            Some(t) => format!("{url}?token={}", urlencoding::encode(t.expose())),
            None => url,
        });
    }
    let handle = (kind.spawn)(&fake_config(v), behavior, listener).await?;
    let url = handle.base_url();
    tracing::info!(vendor = %v.id, kind = %v.kind, %url, "embedded vendor fake started");
    Ok((url, Embedded::Fake(handle)))
}

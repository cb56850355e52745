//! Configured vendor instances: adapter, rate limiter, concurrency cap and
//! circuit breaker. Limits are per vendor instance and shared by every
//! campaign routed to it.

use super::VendorAdapter;
pub use super::embedded::Embedded;
use super::sim::{SimAdapter, SimAdapterConfig};
use crate::clock::Clock;
use crate::config::VendorSettings;
use crate::domain::call_cost::{Pricing, call_cost};
use crate::domain::call_event::CallEvent;
pub use crate::domain::routing::VendorSlot;
use crate::store::Db;
use crate::store::StoreError;
use crate::store::vendor_limits::{self, Bucket};
use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

pub struct VendorHandle {
    pub adapter: Arc<dyn VendorAdapter>,
    /// API requests to this vendor wait here first (governor token bucket)
    /// until the shared bucket in the database is attached, and whenever
    /// the database cannot be asked.
    pub limiter: Option<Arc<DefaultDirectRateLimiter>>,
    /// The rate limit as a token bucket in the database, shared by every
    /// instance: the limit holds for all of them together.
    shared: OnceLock<(Db, Bucket, Arc<dyn Clock>)>,
    rate_per_second: Option<f64>,
    pub max_concurrency: u32,
    /// The longest one API request to the vendor may take.
    pub request_timeout: Duration,
    /// Callback authenticity checked by the ingress for every kind.
    pub callback_token: Option<String>,
    pub callback_allow_ips: Vec<ipnet::IpNet>,
    /// `price_per_minute`: prices results that carry no cost.
    pub pricing: Option<Pricing>,
    circuit: Circuit,
}

/// Open after a fatal vendor error: the vendor gets no new work until the
/// cooldown has passed; then one more try decides (a new fatal error opens it
/// again).
struct Circuit {
    cooldown: chrono::Duration,
    open_until: Mutex<Option<(DateTime<Utc>, String)>>,
}

impl VendorHandle {
    /// `event` with its cost: the vendor's own, else the configured price
    /// of its billed time ([`call_cost`]). Every path a result comes in by
    /// (callback, poll, lookup) prices it here.
    pub fn priced(&self, mut event: CallEvent) -> CallEvent {
        event.cost = call_cost(event.cost.as_ref(), self.pricing.as_ref(), event.billed_ms, event.duration_ms);
        event
    }

    /// Wait for the vendor's rate limit to allow one more API request.
    pub async fn until_ready(&self) {
        if let Some((db, bucket, clock)) = self.shared.get() {
            loop {
                match vendor_limits::take_token(db, self.adapter.id(), *bucket, clock.now()).await {
                    Ok(None) => return,
                    Ok(Some(wait)) => tokio::time::sleep(wait).await,
                    Err(e) => {
                        // The request itself will likely fail too; never send
                        // faster than the per-process limit meanwhile.
                        tracing::warn!(vendor = %self.adapter.id(), error = %e, "shared rate limit unavailable; using this instance's");
                        break;
                    }
                }
            }
        }
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }

    /// Take the vendor out of rotation until `now + cooldown`.
    pub fn open_circuit(&self, now: DateTime<Utc>, reason: &str) {
        let until = now + self.circuit.cooldown;
        *self.circuit.open_until.lock().unwrap() = Some((until, reason.to_string()));
        metrics::gauge!("campaignd_vendor_circuit_open", "vendor" => self.adapter.id().to_string()).set(1.0);
        tracing::error!(vendor = %self.adapter.id(), %until, %reason, "vendor circuit opened: its work goes to the campaigns' other vendors");
    }

    /// Why the vendor is out of rotation at `now`, if it is.
    pub fn circuit_open(&self, now: DateTime<Utc>) -> Option<String> {
        let mut guard = self.circuit.open_until.lock().unwrap();
        match &*guard {
            Some((until, reason)) if *until > now => Some(format!("{reason} (until {until})")),
            Some(_) => {
                *guard = None;
                metrics::gauge!("campaignd_vendor_circuit_open", "vendor" => self.adapter.id().to_string()).set(0.0);
                tracing::info!(vendor = %self.adapter.id(), "vendor circuit closed after its cooldown");
                None
            }
            None => None,
        }
    }
}

#[derive(Default)]
pub struct VendorRegistry {
    vendors: HashMap<String, Arc<VendorHandle>>,
    /// Simulators started inside the daemon, by vendor id; kept alive here
    /// (and handed on to the next registry by a reload).
    pub embedded: HashMap<String, Arc<Embedded>>,
}

fn limiter(rate_per_second: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let period = Duration::from_secs_f64(1.0 / rate_per_second);
    let burst = NonZeroU32::new(rate_per_second.ceil().max(1.0) as u32)?;
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(Arc::new(RateLimiter::direct(quota)))
}

impl VendorRegistry {
    /// Build adapters; start embedded simulators first so their URL is known.
    /// `callback_base` is our public base URL; embedded fakes push results to
    /// `{callback_base}/callbacks/{vendor_id}` unless told otherwise.
    pub async fn build(settings: &[VendorSettings], callback_base: &str) -> anyhow::Result<VendorRegistry> {
        VendorRegistry::default().rebuild(settings, &BTreeSet::new(), callback_base).await
    }

    /// The registry for reloaded settings. The vendors named in `keep` (their
    /// settings did not change) keep their running handle: circuit state,
    /// rate limiter, and the simulator or fake running inside the daemon with
    /// its calls in progress. The others are built afresh.
    pub async fn rebuild(
        &self,
        settings: &[VendorSettings],
        keep: &BTreeSet<String>,
        callback_base: &str,
    ) -> anyhow::Result<VendorRegistry> {
        let mut reg = VendorRegistry::default();
        for v in settings {
            if keep.contains(&v.id)
                && let Some(handle) = self.vendors.get(&v.id)
            {
                reg.vendors.insert(v.id.clone(), handle.clone());
                if let Some(embedded) = self.embedded.get(&v.id) {
                    reg.embedded.insert(v.id.clone(), embedded.clone());
                }
                continue;
            }
            let adapter = reg.adapter(v, callback_base).await?;
            if !adapter.signs_callbacks() && v.callback_token.is_none() {
                anyhow::bail!(
                    "vendor {}: kind `{}` does not sign its callbacks; set `callback_token` so they can be authenticated",
                    v.id,
                    v.kind
                );
            }
            reg.vendors.insert(
                v.id.clone(),
                Arc::new(VendorHandle {
                    adapter,
                    limiter: v.rate_per_second.and_then(limiter),
                    shared: OnceLock::new(),
                    rate_per_second: v.rate_per_second,
                    max_concurrency: v.max_concurrency,
                    request_timeout: v.request_timeout,
                    callback_token: v.callback_token.as_ref().map(|s| s.expose().to_string()),
                    callback_allow_ips: v.callback_allow_ips.clone(),
                    pricing: v.pricing.clone(),
                    circuit: Circuit {
                        cooldown: chrono::Duration::from_std(v.circuit_cooldown).unwrap_or(chrono::Duration::MAX),
                        open_until: Mutex::new(None),
                    },
                }),
            );
        }
        Ok(reg)
    }

    async fn adapter(&mut self, v: &VendorSettings, callback_base: &str) -> anyhow::Result<Arc<dyn VendorAdapter>> {
        let base_url = match (v.embedded_listen, &v.base_url) {
            (Some(addr), _) => self.embed(v, addr, callback_base).await?,
            (None, Some(url)) => url.clone(),
            (None, None) => anyhow::bail!("vendor {}: no base_url", v.id),
        };
        if v.kind == super::kinds::SIM {
            let secret = crate::config::Secret::exposed_or_empty;
            let config = SimAdapterConfig {
                base_url,
                api_key: secret(&v.api_key),
                callback_secret: secret(&v.callback_secret),
                request_timeout: v.request_timeout,
            };
            return Ok(Arc::new(SimAdapter::new(&v.id, config).map_err(|e| anyhow::anyhow!("vendor {}: {e}", v.id))?));
        }
        let Some(spec) = super::kinds::find(&v.kind) else {
            anyhow::bail!("vendor {}: kind `{}` is not supported", v.id, v.kind)
        };
        (spec.build)(v, &base_url).map_err(|e| anyhow::anyhow!("vendor {}: {e}", v.id))
    }

    /// Start vendor `v`'s simulator or fake inside the daemon; its base URL.
    #[cfg(feature = "doubles")]
    async fn embed(&mut self, v: &VendorSettings, addr: SocketAddr, callback_base: &str) -> anyhow::Result<String> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let (url, embedded) = super::embedded::start(v, listener, callback_base).await?;
        self.embedded.insert(v.id.clone(), Arc::new(embedded));
        Ok(url)
    }

    #[cfg(not(feature = "doubles"))]
    async fn embed(&mut self, v: &VendorSettings, _: SocketAddr, _: &str) -> anyhow::Result<String> {
        anyhow::bail!("vendor {}: `embedded_listen` needs a build with the `doubles` feature", v.id)
    }

    /// Keep the vendors' rate limits in `db`, shared with every instance on
    /// it, with time from `clock`; make sure each vendor has its row there
    /// (claims lock it too).
    pub async fn share_limits(&self, db: &Db, clock: &Arc<dyn Clock>) -> Result<(), StoreError> {
        let now = clock.now();
        let mut rows = Vec::new();
        for (id, h) in &self.vendors {
            let bucket = h.rate_per_second.map(|rate| Bucket { rate, burst: rate.ceil().max(1.0) });
            rows.push((id.clone(), bucket.map_or(0.0, |b| b.burst)));
            if let Some(bucket) = bucket {
                let _ = h.shared.set((db.clone(), bucket, clock.clone()));
            }
        }
        vendor_limits::ensure(db, &rows, now).await
    }

    pub fn get(&self, id: &str) -> Option<Arc<VendorHandle>> {
        self.vendors.get(id).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Arc<VendorHandle>> {
        self.vendors.values()
    }

    /// Vendors in rotation at `now` (circuit closed) with their caps and
    /// own redials, for claiming.
    pub fn caps(&self, now: DateTime<Utc>) -> HashMap<String, VendorSlot> {
        self.vendors
            .iter()
            .filter(|(_, h)| h.circuit_open(now).is_none())
            .map(|(id, h)| (id.clone(), VendorSlot { cap: h.max_concurrency, own_redials: h.adapter.own_redials() }))
            .collect()
    }
}

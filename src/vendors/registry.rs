//! Configured vendor instances: adapter, rate limiter and concurrency cap.

use super::VendorAdapter;
use super::sim::{SimAdapter, SimAdapterConfig, SimAuth, SimHandle};
use crate::config::VendorSettings;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub struct VendorHandle {
    pub adapter: Arc<dyn VendorAdapter>,
    /// API requests to this vendor wait here first (governor token bucket).
    pub limiter: Option<Arc<DefaultDirectRateLimiter>>,
    pub max_concurrency: u32,
}

impl VendorHandle {
    pub async fn until_ready(&self) {
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
    }
}

#[derive(Default)]
pub struct VendorRegistry {
    vendors: HashMap<String, Arc<VendorHandle>>,
    /// Simulators started inside the daemon (`embedded_listen`); kept alive here.
    pub embedded: Vec<SimHandle>,
}

fn limiter(rate_per_second: f64) -> Option<Arc<DefaultDirectRateLimiter>> {
    let period = Duration::from_secs_f64(1.0 / rate_per_second);
    let burst = NonZeroU32::new(rate_per_second.ceil().max(1.0) as u32)?;
    let quota = Quota::with_period(period)?.allow_burst(burst);
    Some(Arc::new(RateLimiter::direct(quota)))
}

impl VendorRegistry {
    /// Build adapters; start embedded simulators first so their URL is known.
    pub async fn build(settings: &[VendorSettings]) -> anyhow::Result<VendorRegistry> {
        let mut reg = VendorRegistry::default();
        for v in settings {
            let api_key = v.api_key.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
            let callback_secret = v.callback_secret.as_ref().map(|s| s.expose().to_string()).unwrap_or_default();
            let adapter: Arc<dyn VendorAdapter> = match v.kind.as_str() {
                "sim" => {
                    let base_url = match (v.embedded_listen, &v.base_url) {
                        (Some(addr), _) => {
                            let listener = tokio::net::TcpListener::bind(addr).await?;
                            let handle = super::sim::spawn(
                                v.sim.clone().unwrap_or_default(),
                                SimAuth { api_key: api_key.clone(), callback_secret: callback_secret.clone() },
                                listener,
                            )
                            .await?;
                            let url = handle.base_url();
                            tracing::info!(vendor = %v.id, %url, "embedded simulator started");
                            reg.embedded.push(handle);
                            url
                        }
                        (None, Some(url)) => url.clone(),
                        (None, None) => anyhow::bail!("vendor {}: no base_url", v.id),
                    };
                    Arc::new(SimAdapter::new(
                        &v.id,
                        SimAdapterConfig { base_url, api_key, callback_secret, request_timeout: v.request_timeout },
                    ))
                }
                other => anyhow::bail!("vendor {}: kind `{other}` is not supported", v.id),
            };
            reg.vendors.insert(
                v.id.clone(),
                Arc::new(VendorHandle {
                    adapter,
                    limiter: v.rate_per_second.and_then(limiter),
                    max_concurrency: v.max_concurrency,
                }),
            );
        }
        Ok(reg)
    }

    pub fn get(&self, id: &str) -> Option<Arc<VendorHandle>> {
        self.vendors.get(id).cloned()
    }

    /// Usable vendors and their caps, for claiming.
    pub fn caps(&self) -> HashMap<String, u32> {
        self.vendors.iter().map(|(id, h)| (id.clone(), h.max_concurrency)).collect()
    }
}

//! Several campaignd instances on one database, all in this process: each is
//! an in-process `App` with its own `scheduler.instance_id` and its own HTTP
//! listener, as separate daemons sharing a PostgreSQL database would be. The
//! benchmark drives their scheduler ticks and inbox drains itself.

use super::config::{BenchConfig, VENDOR_ID};
use super::dispatch::{Callbacks, sink};
use super::{HttpServer, PlannerStats, loopback_listener};
use anyhow::Context as _;
use campaignd::app::App;
use campaignd::clock::SystemClock;
use campaignd::context::Ctx;
use std::sync::Arc;

pub struct Instance {
    pub ctx: Ctx,
    /// This instance's `/callbacks/{vendor}` URL.
    pub callback_url: String,
    http: HttpServer,
    _planner_stats: PlannerStats,
    /// Owns the listener `App::build` bound (unused: `http` serves ours).
    _app: App,
}

pub struct Cluster {
    pub instances: Vec<Instance>,
}

impl Cluster {
    /// Start `count` instances from `base`, one after the other (migrations
    /// and config sync run once per instance, as at each daemon's start).
    /// Each serves `callbacks` on its own loopback listener, which is also its
    /// `http.public_url`, so a vendor calls back the instance that dispatched.
    pub async fn start(count: usize, base: &BenchConfig, callbacks: Callbacks) -> anyhow::Result<Cluster> {
        let mut instances = Vec::with_capacity(count);
        for i in 1..=count {
            let (listener, public_url) = loopback_listener().await?;
            let config = BenchConfig {
                instance_id: Some(format!("bench-{i}")),
                public_url: Some(public_url.clone()),
                ..base.clone()
            };
            let app = App::build(config.settings()?, Arc::new(SystemClock))
                .await
                .with_context(|| format!("starting instance {i} of {count}"))?;
            let ctx = app.ctx().clone();
            let http = match callbacks {
                Callbacks::Sink => HttpServer::start(listener, sink()),
                Callbacks::Daemon => HttpServer::daemon(listener, ctx.clone()),
            };
            let callback_url = format!("{public_url}/callbacks/{VENDOR_ID}");
            let _planner_stats = PlannerStats::spawn(&ctx);
            instances.push(Instance { ctx, callback_url, http, _planner_stats, _app: app });
        }
        Ok(Cluster { instances })
    }

    /// Any instance's view of the shared database.
    pub fn first(&self) -> &Ctx {
        &self.instances[0].ctx
    }

    pub fn callback_urls(&self) -> Vec<String> {
        self.instances.iter().map(|i| i.callback_url.clone()).collect()
    }

    /// Stop every HTTP server; a server that failed fails the measurement.
    pub async fn stop(self) -> anyhow::Result<()> {
        for instance in self.instances {
            instance.http.stop().await?;
        }
        Ok(())
    }
}

//! Upstream services: HTTP services declared under `[upstreams.<name>]`,
//! which the gateway fronts as it fronts its own. A call to one goes
//! through the same phases as a local action (route, authenticate,
//! rate-limit, decode, replay), then is forwarded instead of run; its
//! answer becomes the envelope, and a slow or designated-async call
//! becomes a job like any other, made again by whichever node takes the
//! job over.
//!
//! - [`config`]: the section and its checks;
//! - [`table`]: the services of one configuration, swapped whole on
//!   `SIGHUP` ([`Upstreams::reload`]);
//! - [`peer`]: choosing a target, passive health;
//! - [`health`]: active health checks;
//! - [`forward`]: the request the upstream receives, attempts, polling an
//!   upstream's 202;
//! - [`answer`]: the upstream's answer as the gateway's outcome;
//! - [`identity`]: the signed `X-Actiongate-Identity` and the JWKS.

pub mod answer;
pub mod config;
pub mod forward;
pub mod health;
pub mod identity;
pub mod peer;
pub mod table;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_service::Principal;
use actiongate_wire::RequestId;
use arc_swap::ArcSwap;
use bytes::Bytes;
use futures_util::FutureExt;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::jobs::{store, Work};
use crate::metrics::Metrics;
use answer::Answer;
use config::UpstreamConfig;
use forward::{Caller, UpstreamCall};
use identity::Identity;
use peer::PeerReport;
use table::{CallSettings, UpstreamService, UpstreamTable};

/// The upstream services in force, and what every call to them shares.
pub struct Upstreams {
    table: ArcSwap<UpstreamTable>,
    /// The section the table was built from, to tell a reload that
    /// changes nothing.
    config: Mutex<BTreeMap<String, UpstreamConfig>>,
    /// Stops the active checks of the table in force.
    checks: Mutex<CancellationToken>,
    identity: Arc<Identity>,
    db: DatabaseConnection,
    metrics: Arc<Metrics>,
    /// The gateway's response threshold, for services that set none.
    threshold: Duration,
}

/// `upstream/status`: each upstream and the health of its targets.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusReport {
    pub upstreams: Vec<UpstreamReport>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UpstreamReport {
    pub name: String,
    pub healthy_targets: usize,
    pub targets: Vec<PeerReport>,
}

impl Upstreams {
    /// The upstreams of a configuration already checked with
    /// [`config::check`], with their health checks running.
    pub fn start(
        upstreams: &BTreeMap<String, UpstreamConfig>,
        threshold: Duration,
        identity: Arc<Identity>,
        db: DatabaseConnection,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Upstreams>, String> {
        let table = UpstreamTable::build(upstreams, threshold, &metrics)?;
        let checks = CancellationToken::new();
        start_checks(&table, &checks);
        Ok(Arc::new(Upstreams {
            table: ArcSwap::from_pointee(table),
            config: Mutex::new(upstreams.clone()),
            checks: Mutex::new(checks),
            identity,
            db,
            metrics,
            threshold,
        }))
    }

    /// The table in force; a call keeps the one it started with.
    pub fn current(&self) -> Arc<UpstreamTable> {
        self.table.load_full()
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Puts a new section in force for the calls that start from now on.
    /// Returns whether anything changed.
    pub fn reload(&self, upstreams: &BTreeMap<String, UpstreamConfig>) -> Result<bool, String> {
        let mut config = self.config.lock().expect("upstream config lock");
        if *config == *upstreams {
            return Ok(false);
        }
        let table = UpstreamTable::build(upstreams, self.threshold, &self.metrics)?;
        let checks = CancellationToken::new();
        start_checks(&table, &checks);
        self.table.store(Arc::new(table));
        let replaced = std::mem::replace(&mut *self.checks.lock().expect("checks lock"), checks);
        replaced.cancel();
        *config = upstreams.clone();
        Ok(true)
    }

    /// Stops the active health checks.
    pub fn stop(&self) {
        self.checks.lock().expect("checks lock").cancel();
    }

    /// The call to `service` as a future of its outcome: POSTed, then, if
    /// the upstream answered 202, polled to its end. A call that was
    /// already being polled (a job taken over from another node) resumes
    /// polling.
    pub fn work(
        self: &Arc<Self>,
        service: Arc<UpstreamService>,
        settings: CallSettings,
        call: Arc<UpstreamCall>,
        body: Bytes,
        request_id: RequestId,
        principal: Arc<Principal>,
    ) -> Work {
        let upstreams = self.clone();
        async move {
            let caller = Caller {
                request_id,
                principal: &principal,
                identity: &upstreams.identity,
            };
            // Polling changes the call (its location): it is copied only
            // once the upstream answered 202.
            let (mut polled, retry_after) = match call.poll {
                Some(_) => ((*call).clone(), None),
                None => match forward::post(&service, settings, &call, body, &caller).await {
                    Err(outcome) | Ok((Answer::Final(outcome), _)) => return outcome,
                    Ok((Answer::Pending { location, retry_after }, target)) => {
                        let base = service.peers.get(target).url.join("/");
                        let Some(url) = base.ok().and_then(|base| forward::resolve(&base, &location)) else {
                            return answer::provider_error(format!(
                                "The {} service answered 202 with a location that is not a path or URL",
                                service.name
                            ));
                        };
                        let mut polled = (*call).clone();
                        polled.poll = Some(url);
                        upstreams.remember(request_id, &polled).await;
                        (polled, retry_after)
                    }
                },
            };
            forward::follow(&service, settings, &mut polled, retry_after, &caller).await
        }
        .boxed()
    }

    /// Stores where a job's upstream call is polled, so that a node taking
    /// the job over polls there instead of calling again. The job's row
    /// may not exist yet (a call still within its threshold); then a
    /// takeover calls again, with the same idempotency key.
    async fn remember(&self, request_id: RequestId, call: &UpstreamCall) {
        let json = serde_json::to_string(call).expect("an upstream call serializes");
        if let Err(err) = store::set_upstream_call(&self.db, &request_id.to_string(), json).await {
            tracing::warn!(%request_id, error = %err, "could not store the upstream poll location");
        }
    }

    pub fn report(&self) -> StatusReport {
        let table = self.current();
        StatusReport {
            upstreams: table
                .services()
                .iter()
                .map(|service| {
                    let targets = service.peers.report();
                    UpstreamReport {
                        name: service.name.to_owned(),
                        healthy_targets: targets.iter().filter(|t| t.healthy).count(),
                        targets,
                    }
                })
                .collect(),
        }
    }
}

fn start_checks(table: &UpstreamTable, stop: &CancellationToken) {
    for service in table.services() {
        health::spawn(service.clone(), stop.clone());
    }
}

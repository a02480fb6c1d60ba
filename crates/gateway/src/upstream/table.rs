//! The upstream services of one configuration, ready to route to: each
//! with its settings, per-path overrides, targets and their health, its
//! own pooled client, and its metrics handles. A reload builds a new
//! table; calls in flight keep the one they started with.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actiongate_service::{ActionName, ActionSpec, Ctx, Db, Mode, Principal, Role};
use actiongate_wire::RequestId;

use super::config::UpstreamConfig;
use super::forward::{self, HttpClient};
use super::peer::{Peers, TargetUrl};
use crate::metrics::{Metrics, RouteMetrics};

/// The settings of a service that every path shares.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    pub retries: u32,
    pub response_limit: u64,
    pub health_path: Option<String>,
    pub health_interval: Duration,
}

/// What one call needs to know of its path's settings.
#[derive(Clone, Copy, Debug)]
pub struct CallSettings {
    pub timeout: Duration,
}

/// One path's settings (a path under `actions`, or every other path).
pub struct UpstreamAction {
    /// The role, mode and threshold as the pipeline checks them for a
    /// local action; `version` and `path` name the configured key, or
    /// `*` for the paths not listed.
    pub spec: ActionSpec,
    pub threshold: Duration,
    pub call: CallSettings,
    pub metrics: RouteMetrics,
    /// Whether a success is recorded in the audit trail.
    pub audit: bool,
}

pub struct UpstreamService {
    pub name: &'static str,
    pub settings: ServiceSettings,
    pub peers: Peers,
    pub client: HttpClient,
    /// Keyed `version/resource/action`.
    actions: HashMap<Box<str>, UpstreamAction>,
    /// For every path not under `actions`.
    other: UpstreamAction,
    pub rate_limited: metrics::Counter,
}

impl UpstreamService {
    /// The settings for `key` (`version/resource/action`).
    pub fn action(&self, key: &str) -> &UpstreamAction {
        self.actions.get(key).unwrap_or(&self.other)
    }

    /// The context of a call to `key` (`version/resource/action`) under
    /// `action`'s settings, named as its settings are (its listed key, or
    /// `*`), so that names stay bounded; its success is audited under its
    /// own path, unless the settings say not to.
    pub fn context(
        &self,
        key: &str,
        action: &UpstreamAction,
        request_id: RequestId,
        principal: Arc<Principal>,
        db: Db,
    ) -> Ctx {
        let name = ActionName {
            service: self.name,
            version: action.spec.version,
            path: action.spec.path,
        };
        let ctx = Ctx::new(request_id, name, principal, db, Default::default());
        if action.audit {
            ctx.audit_success_as(format!("{}/{key}", self.name));
        }
        ctx
    }
}

#[derive(Default)]
pub struct UpstreamTable {
    services: Vec<Arc<UpstreamService>>,
    by_name: HashMap<&'static str, usize>,
    /// Listed paths, for path-only routing: the one service listing each.
    by_path: HashMap<Box<str>, Vec<usize>>,
}

impl UpstreamTable {
    /// Builds the table of a checked configuration
    /// ([`super::config::check`]); `threshold` is the gateway's.
    pub fn build(
        upstreams: &BTreeMap<String, UpstreamConfig>,
        threshold: Duration,
        metrics: &Metrics,
    ) -> Result<UpstreamTable, String> {
        let mut table = UpstreamTable::default();
        for (name, config) in upstreams {
            let index = table.services.len();
            let name = intern(name);
            for label in std::iter::once(name).chain(config.aliases.iter().map(|a| intern(a))) {
                table.by_name.insert(label, index);
            }
            let targets = config
                .targets
                .iter()
                .map(|t| TargetUrl::parse(t))
                .collect::<Result<Vec<_>, _>>()?;
            let service_threshold = config.response_threshold.unwrap_or(threshold);
            let action = |version: &'static str, path: &'static str, mode: Mode, role: Role| {
                let spec = match mode {
                    Mode::Sync => ActionSpec::sync(version, path, "Success"),
                    Mode::Async => ActionSpec::asynchronous(version, path, "Success"),
                };
                spec.role(role)
            };
            let mut actions = HashMap::new();
            for (key, over) in &config.actions {
                let (version, path) = key.split_once('/').ok_or_else(|| {
                    format!("upstreams.{name}.actions.{key:?}: not version/resource/action")
                })?;
                let (version, path) = (intern(version), intern(path));
                let mode = over.mode.map_or(Mode::Sync, Mode::from);
                actions.insert(
                    key.as_str().into(),
                    UpstreamAction {
                        spec: action(version, path, mode, over.role.unwrap_or(config.role)),
                        threshold: over.response_threshold.unwrap_or(service_threshold),
                        call: CallSettings {
                            timeout: over.timeout.unwrap_or(config.timeout),
                        },
                        metrics: metrics.route(name, version, path),
                        audit: over.audit.unwrap_or(config.audit),
                    },
                );
                table
                    .by_path
                    .entry(key.as_str().into())
                    .or_default()
                    .push(index);
            }
            table.services.push(Arc::new(UpstreamService {
                name,
                settings: ServiceSettings {
                    retries: config.retries,
                    response_limit: config.response_limit,
                    health_path: config.health_path.clone(),
                    health_interval: config.health_interval,
                },
                peers: Peers::new(name, targets, config.max_fails, config.fail_timeout),
                client: forward::client(config.connect_timeout),
                actions,
                other: UpstreamAction {
                    spec: action("*", "*", Mode::Sync, config.role),
                    threshold: service_threshold,
                    call: CallSettings {
                        timeout: config.timeout,
                    },
                    metrics: metrics.route(name, "*", "*"),
                    audit: config.audit,
                },
                rate_limited: metrics.rate_limited(name),
            }));
        }
        Ok(table)
    }

    /// The service answering to `name` (its own name or an alias).
    pub fn service_named(&self, name: &str) -> Option<&Arc<UpstreamService>> {
        self.by_name.get(name).map(|&i| &self.services[i])
    }

    /// The services listing `key` under `actions`.
    pub fn services_with(&self, key: &str) -> impl Iterator<Item = &Arc<UpstreamService>> {
        self.by_path
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| &self.services[i])
    }

    /// The service name, version and path of a listed
    /// `service/version/resource/action`.
    pub fn find_action(&self, key: &str) -> Option<(&'static str, &'static str, &'static str)> {
        let (name, rest) = key.split_once('/')?;
        let service = self.service_named(name)?;
        let action = service.actions.get(rest)?;
        Some((service.name, action.spec.version, action.spec.path))
    }

    pub fn services(&self) -> &[Arc<UpstreamService>] {
        &self.services
    }
}

/// A name from the configuration as the `'static` label metrics and
/// contexts take. Each distinct name is kept once for the life of the
/// process, so reloads do not grow memory beyond the names ever
/// configured (paths callers send are never interned).
pub(crate) fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Mutex::default)
        .lock()
        .expect("names lock");
    if let Some(&known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

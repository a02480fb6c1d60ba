//! The route table: every registered service's actions, indexed the three
//! ways a call can name them (service prefix, `Host` label, unique path).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use actiongate_service::{
    Access, ActionError, ActionName, ActionSpec, ApiError, Catalog, Ctx, DecodedInput, Engine,
    ErasedAction, Hooks, Mode, OnActivityEvents, Requests, Scope, Service, SweepExpired,
};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::metrics::{Metrics, RouteMetrics};
use crate::{Config, Outcome};

/// One action, ready to run.
pub struct Action {
    pub spec: ActionSpec,
    pub handler: Arc<dyn ErasedAction>,
    pub threshold: Duration,
    /// Its series, labelled from this table.
    pub metrics: RouteMetrics,
}

impl Action {
    /// The action's full name, for its calls' contexts and audit events.
    pub fn name(&self, service: &'static str) -> ActionName {
        ActionName {
            service,
            version: self.spec.version,
            path: self.spec.path,
        }
    }

    /// The handler as a future of its outcome. A handler that panics ends
    /// its call with `InternalError`; the gateway goes on.
    pub fn run(&self, ctx: Ctx, input: DecodedInput) -> BoxFuture<'static, Outcome> {
        let summary = self.spec.summary;
        let shown_once = self.spec.shown_once;
        let request_id = ctx.request_id;
        let work = AssertUnwindSafe(self.handler.run(ctx, input)).catch_unwind();
        Box::pin(async move {
            match work.await {
                Ok(Ok(result)) => Outcome::Success {
                    summary: summary.into(),
                    kept: (!shown_once.is_empty())
                        .then(|| crate::outcome::without_shown_once(&result, shown_once)),
                    result,
                },
                Ok(Err(ActionError::Api(err))) => Outcome::Failure(err),
                Ok(Err(ActionError::Db(err))) => Outcome::from_db_error(request_id, &err),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    tracing::error!(%request_id, panic = message, "action handler panicked");
                    Outcome::Failure(ApiError::internal(request_id))
                }
            }
        })
    }
}

/// One service and its actions, keyed `version/resource/action`.
pub struct ServiceRoutes {
    pub name: &'static str,
    pub state: Arc<http::Extensions>,
    /// Calls to it refused by a rate limit.
    pub rate_limited: metrics::Counter,
    actions: HashMap<Box<str>, Action>,
    /// Actions only run as jobs the service starts (`Access::Internal`):
    /// never routed or described.
    internal: HashMap<Box<str>, Action>,
}

impl ServiceRoutes {
    /// A routable action.
    pub fn action(&self, key: &str) -> Option<&Action> {
        self.actions.get(key)
    }

    /// An action a job may run: a routable one, or an internal one.
    pub fn runnable(&self, key: &str) -> Option<&Action> {
        self.actions.get(key).or_else(|| self.internal.get(key))
    }

    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }
}

pub struct RouteTable {
    services: Vec<ServiceRoutes>,
    /// Service names and aliases to their index in `services`.
    by_name: HashMap<&'static str, usize>,
    /// `version/resource/action` to every service that serves it.
    by_path: HashMap<Box<str>, Vec<usize>>,
    /// Where the job engine is handed to handlers once it has started.
    engine: Arc<Engine>,
    /// What the services' records that expire are, and how to sweep them.
    sweeps: Vec<(&'static str, SweepExpired)>,
    /// What services do when activities change state.
    activity_hooks: Vec<OnActivityEvents>,
}

/// A problem with the set of services, found at start.
#[derive(Debug)]
pub enum TableError {
    DuplicateName(&'static str),
    ReservedName(&'static str),
    DuplicateAction(&'static str, String),
    PublicAsync(&'static str, String),
    PublicScoped(&'static str, String),
    /// An activity that is not designated asynchronous, or has no project.
    MisplacedActivity(&'static str, String),
}

/// Paths the gateway answers itself, which no service may take as its name.
pub const RESERVED: [&str; 9] = [
    "healthz",
    "readyz",
    "version",
    "status",
    "metrics",
    "request",
    "openapi.json",
    ".well-known",
    "v1",
];

/// Public calls are never turned into jobs: nobody could poll them.
const PUBLIC_THRESHOLD: Duration = Duration::from_secs(365 * 24 * 60 * 60);

impl std::fmt::Display for TableError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableError::DuplicateName(name) => {
                write!(f, "two services answer to the name {name:?}")
            }
            TableError::ReservedName(name) => write!(
                f,
                "a service may not be named {name:?}: the gateway answers at that path itself"
            ),
            TableError::DuplicateAction(service, key) => {
                write!(f, "service {service:?} registers {key:?} twice")
            }
            TableError::PublicAsync(service, key) => write!(
                f,
                "service {service:?} registers {key:?} as public and asynchronous; a public call's result could not be polled"
            ),
            TableError::PublicScoped(service, key) => write!(
                f,
                "service {service:?} registers {key:?} as public with a project scope; a public caller has no role to check"
            ),
            TableError::MisplacedActivity(service, key) => write!(
                f,
                "service {service:?} registers {key:?} as an activity; activities are asynchronous and scoped to a project or a record in one"
            ),
        }
    }
}

impl RouteTable {
    /// The service name, version and path of `service/version/resource/action`.
    pub fn find_action(&self, key: &str) -> Option<(&'static str, &'static str, &'static str)> {
        let (name, rest) = key.split_once('/')?;
        let service = &self.services[*self.by_name.get(name)?];
        let action = service.action(rest)?;
        Some((service.name, action.spec.version, action.spec.path))
    }

    /// Every service's own name.
    pub fn service_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.services.iter().map(|service| service.name)
    }

    /// Every name a service answers to, its own and its aliases.
    pub fn all_names(&self) -> Vec<&'static str> {
        self.by_name.keys().copied().collect()
    }

    pub fn build(
        services: Vec<Service>,
        config: &Config,
        metrics: &Metrics,
    ) -> Result<Self, TableError> {
        let mut table = RouteTable {
            services: Vec::new(),
            by_name: HashMap::new(),
            by_path: HashMap::new(),
            engine: Arc::default(),
            sweeps: Vec::new(),
            activity_hooks: Vec::new(),
        };
        // Every call can reach every service's hooks (a project deleted by
        // one service takes the others' records with it).
        let hooks = Arc::new(Hooks::of(&services));
        // And the policies of every action, for `authz/*`.
        let mut catalog = Catalog::default();
        for service in &services {
            for (spec, _) in &service.actions {
                catalog.add(service.name, spec);
            }
        }
        let catalog = Arc::new(catalog);
        for mut service in services {
            service.state.insert(hooks.clone());
            service.state.insert(catalog.clone());
            service.state.insert(table.engine.clone());
            table.sweeps.extend(service.sweeps.iter().copied());
            table
                .activity_hooks
                .extend(service.activity_events.iter().copied());
            let index = table.services.len();
            for name in service.names() {
                if RESERVED.contains(&name) {
                    return Err(TableError::ReservedName(name));
                }
                if table.by_name.insert(name, index).is_some() {
                    return Err(TableError::DuplicateName(name));
                }
            }
            let mut actions = HashMap::new();
            let mut internal = HashMap::new();
            for (spec, handler) in service.actions {
                let key: Box<str> = format!("{}/{}", spec.version, spec.path).into();
                let threshold = spec
                    .threshold
                    .unwrap_or_else(|| config.threshold_for(service.name, spec.version, spec.path));
                if actions.contains_key(&key) || internal.contains_key(&key) {
                    return Err(TableError::DuplicateAction(service.name, key.into()));
                }
                // A recorded request is polled by its caller's token; a
                // public call has none, so it must be answered directly.
                if spec.access == Access::Public && spec.mode == Mode::Async {
                    return Err(TableError::PublicAsync(service.name, key.into()));
                }
                if spec.access == Access::Public && !matches!(spec.scope, Scope::Org) {
                    return Err(TableError::PublicScoped(service.name, key.into()));
                }
                if spec.activity.is_some()
                    && (spec.mode != Mode::Async || matches!(spec.scope, Scope::Org))
                {
                    return Err(TableError::MisplacedActivity(service.name, key.into()));
                }
                let threshold = if spec.access == Access::Public {
                    PUBLIC_THRESHOLD
                } else {
                    threshold
                };
                let metrics = metrics.route(service.name, spec.version, spec.path);
                if spec.access == Access::Internal {
                    let action = Action {
                        spec,
                        handler,
                        threshold,
                        metrics,
                    };
                    internal.insert(key, action);
                    continue;
                }
                table.by_path.entry(key.clone()).or_default().push(index);
                actions.insert(
                    key,
                    Action {
                        spec,
                        handler,
                        threshold,
                        metrics,
                    },
                );
            }
            table.services.push(ServiceRoutes {
                name: service.name,
                state: Arc::new(service.state),
                rate_limited: metrics.rate_limited(service.name),
                actions,
                internal,
            });
        }
        Ok(table)
    }

    /// The service answering to `name` (its own name or an alias).
    pub fn service_named(&self, name: &str) -> Option<&ServiceRoutes> {
        self.by_name.get(name).map(|&i| &self.services[i])
    }

    /// The services serving `version/resource/action`.
    pub fn services_with(&self, key: &str) -> impl Iterator<Item = &ServiceRoutes> {
        self.by_path
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| &self.services[i])
    }

    pub fn services(&self) -> &[ServiceRoutes] {
        &self.services
    }

    /// Every service's hook on activities' changes of state.
    pub fn activity_hooks(&self) -> &[OnActivityEvents] {
        &self.activity_hooks
    }

    /// Every service's expiring records and their sweeps.
    pub fn sweeps(&self) -> &[(&'static str, SweepExpired)] {
        &self.sweeps
    }

    /// Hands the started job engine to every service's handlers.
    pub fn install_engine(&self, requests: Arc<dyn Requests>) {
        self.engine.install(requests);
    }
}

impl std::error::Error for TableError {}

#[cfg(test)]
mod tests {
    use super::*;

    async fn nothing(
        _ctx: Ctx,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, ActionError> {
        Ok(input)
    }

    #[test]
    fn a_public_action_cannot_be_asynchronous() {
        let service = Service::new("x").action(
            ActionSpec::asynchronous("v1", "a", "Done").public(),
            nothing,
        );
        let built = RouteTable::build(vec![service], &Config::default(), &Metrics::new(false));
        assert!(matches!(built, Err(TableError::PublicAsync("x", _))));
        let service =
            Service::new("x").action(ActionSpec::sync("v1", "a", "Done").public(), nothing);
        let table =
            RouteTable::build(vec![service], &Config::default(), &Metrics::new(false)).unwrap();
        let action = table.service_named("x").unwrap().action("v1/a").unwrap();
        assert_eq!(action.threshold, PUBLIC_THRESHOLD);
    }

    #[test]
    fn a_service_cannot_take_a_path_the_gateway_answers() {
        let service = Service::new("x").alias("status");
        let built = RouteTable::build(vec![service], &Config::default(), &Metrics::new(false));
        assert!(matches!(built, Err(TableError::ReservedName("status"))));
    }
}

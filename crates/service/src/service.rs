//! A service: its name, aliases, state and actions, in one declaration.

use std::future::Future;
use std::sync::Arc;

use schemars::JsonSchema;
use sea_orm_migration::MigrationTrait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::action::{ActionSpec, Binding, ErasedAction, Typed};
use crate::hooks::{OnActivityEvents, OnProjectsDeleted, ResealSecrets, SweepExpired};
use crate::{ActionError, Ctx};

/// A service as the gateway sees it.
pub struct Service {
    pub name: &'static str,
    pub aliases: Vec<&'static str>,
    pub actions: Vec<(ActionSpec, Arc<dyn ErasedAction>)>,
    pub state: http::Extensions,
    /// The migrations of the tables this service owns; the gateway applies
    /// them with the core's, in the order of their names.
    pub migrations: Vec<Box<dyn MigrationTrait>>,
    pub(crate) projects_deleted: Vec<OnProjectsDeleted>,
    /// What of its own expires, for the gateway's sweeper.
    pub sweeps: Vec<(&'static str, SweepExpired)>,
    /// What of its own is sealed, for `actiongate secrets rotate-key`.
    pub reseals: Vec<(&'static str, ResealSecrets)>,
    /// What it does when activities change state.
    pub activity_events: Vec<OnActivityEvents>,
}

impl Service {
    pub fn new(name: &'static str) -> Self {
        Service {
            name,
            aliases: Vec::new(),
            actions: Vec::new(),
            state: http::Extensions::new(),
            migrations: Vec::new(),
            projects_deleted: Vec::new(),
            sweeps: Vec::new(),
            reseals: Vec::new(),
            activity_events: Vec::new(),
        }
    }

    /// Another name the service answers to, as a path prefix or host label.
    pub fn alias(mut self, alias: &'static str) -> Self {
        self.aliases.push(alias);
        self
    }

    /// Makes `value` available to handlers through [`Ctx::state`].
    pub fn state<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// A migration of a table this service owns. Its name starts with its
    /// date (`mYYYYMMDD_NNNNNN_<service>_...`), which places it among the
    /// core's and other services' migrations; once shipped, it is never
    /// edited or renamed.
    pub fn migration(mut self, migration: impl MigrationTrait + 'static) -> Self {
        self.migrations.push(Box::new(migration));
        self
    }

    /// What this service deletes of its own when projects are deleted (see
    /// [`crate::Hooks`]).
    pub fn on_projects_deleted(mut self, hook: OnProjectsDeleted) -> Self {
        self.projects_deleted.push(hook);
        self
    }

    /// Has the gateway delete this service's expired `what` (`backups`)
    /// in batches, every sweep interval (see [`SweepExpired`]).
    pub fn sweep_expired(mut self, what: &'static str, sweep: SweepExpired) -> Self {
        self.sweeps.push((what, sweep));
        self
    }

    /// Has `actiongate secrets rotate-key` reseal this service's sealed
    /// `what` (see [`ResealSecrets`]).
    pub fn reseal_secrets(mut self, what: &'static str, reseal: ResealSecrets) -> Self {
        self.reseals.push((what, reseal));
        self
    }

    /// Acts on every activity's changes of state (see
    /// [`OnActivityEvents`]).
    pub fn on_activity_events(mut self, hook: OnActivityEvents) -> Self {
        self.activity_events.push(hook);
        self
    }

    /// Registers one action: its spec and its handler. Its input and output
    /// types describe themselves (`JsonSchema`) for the OpenAPI document.
    /// A spec made [`ActionSpec::of`] a declared action takes only a
    /// handler of the declared types, and only in the declared service.
    pub fn action<Act, I, O, F, Fut>(mut self, spec: ActionSpec<Act>, handler: F) -> Self
    where
        Act: Binding<I, O>,
        I: DeserializeOwned + JsonSchema + Send + 'static,
        O: Serialize + JsonSchema + Send + 'static,
        F: Fn(Ctx, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, ActionError>> + Send + 'static,
    {
        if let Some(declared) = Act::SERVICE {
            assert_eq!(
                declared, self.name,
                "{}/{} is declared in another service",
                spec.version, spec.path
            );
        }
        self.actions
            .push((spec.erase(), Arc::new(Typed::<I, O, F>::new(handler))));
        self
    }

    /// Every name the service answers to: its own first, then its aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

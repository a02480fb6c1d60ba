//! The deploy service: a project's environments, their lifecycle, the
//! variables they hold, and the activities that change them (seeds 004
//! and 002, domain "deploy").
//!
//! - `environment/create|list|get|update|delete|set_default`. One default
//!   per project, the first environment created; deleting the default or a
//!   non-empty environment needs `force: true`.
//! - `environment/clone|branch|merge|sync|pause|resume`: activities, one
//!   at a time per environment ([`lifecycle`]). Each commits all at once
//!   with its result, so a copy is never seen half made.
//! - `variable/create|list|get|update|delete` for a project or an
//!   environment (a paused environment's are frozen), sensitive values
//!   sealed at rest and never shown; `variable/resolve`, an environment's
//!   effective set ([`variable`]).
//! - `backup/create|list|get|delete|restore` ([`backup`]): snapshots of an
//!   environment's settings and variables, kept for `backup_ttl`.
//! - `activity/list|get|cancel` ([`activity`]).
//! - `integration/create|get|list|update|delete|deliveries`: webhooks
//!   ([`integration`]), sent every activity change they take, signed,
//!   durably and at least once ([`delivery`]).
//!
//! Roles are the caller's in the environment's project
//! (`actiongate_kit::scope`): viewers read, members create and change
//! environments and variables, run the lifecycle and take backups; admins
//! delete environments, choose the default, and delete and restore
//! backups.

// These docs are for the people who work on the crate: its module docs
// link to private modules and items (`cargo doc --document-private-items`
// renders them).
#![allow(rustdoc::private_intra_doc_links)]

#[cfg(feature = "server")]
mod activity;
pub mod api;
#[cfg(feature = "server")]
mod backup;
#[cfg(feature = "server")]
mod config;
#[cfg(feature = "server")]
mod delivery;
#[cfg(feature = "server")]
mod entity;
#[cfg(feature = "server")]
mod environment;
#[cfg(feature = "server")]
mod integration;
#[cfg(feature = "server")]
mod lifecycle;
#[cfg(feature = "server")]
mod schema;
#[cfg(feature = "server")]
mod settings;
#[cfg(feature = "server")]
mod variable;

#[cfg(feature = "server")]
use actiongate_kit::record;
#[cfg(feature = "server")]
use actiongate_service::{ActionSpec, Role, Scope, Service};

#[cfg(feature = "server")]
pub use config::Settings;

#[cfg(feature = "server")]
/// The deploy service with its `[services.deploy]` settings, ready to
/// register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    use Role::{Admin, Member, Viewer};
    let project = Scope::project("project_id");
    let environment = record::<entity::environment::Model>("id");
    let in_environment = record::<entity::environment::Model>("environment_id");
    let variable = record::<entity::variable::Model>("id");
    // A variable lives in an environment or, without one, in a project.
    let at_level = Scope::one_of(&[in_environment, project]);
    let activity = record::<activity::ActivityRow>("id");
    let a_backup = record::<entity::backup::Model>("id");
    let an_integration = record::<entity::integration::Model>("id");
    let backed_up = record::<backup::BackedUpEnvironment>("environment_id");
    let service = Service::new(api::SERVICE)
        .state(settings)
        .sweep_expired("backups", backup::sweep_expired)
        .sweep_expired("ended webhook deliveries", delivery::sweep_expired)
        .reseal_secrets("sensitive variables", variable::reseal_secrets)
        .reseal_secrets("sensitive values in backups", backup::reseal_secrets)
        .reseal_secrets("webhook secrets", integration::reseal_secrets)
        .on_activity_events(delivery::on_activity_events)
        .on_projects_deleted(environment::delete_in_projects)
        .action(
            A::of::<api::EnvironmentCreate>("Environment created")
                .role(Member)
                .scope(project),
            environment::create,
        )
        .action(
            A::of::<api::EnvironmentList>("Environments listed")
                .role(Viewer)
                .scope(project),
            environment::list,
        )
        .action(
            A::of::<api::EnvironmentGet>("Environment found")
                .role(Viewer)
                .scope(environment),
            environment::get,
        )
        .action(
            A::of::<api::EnvironmentUpdate>("Environment updated")
                .role(Member)
                .scope(environment),
            environment::update,
        )
        .action(
            A::of::<api::EnvironmentDelete>("Environment deleted")
                .role(Admin)
                .scope(environment),
            environment::delete,
        )
        .action(
            A::of::<api::EnvironmentSetDefault>("Default environment set")
                .role(Admin)
                .scope(environment),
            environment::set_default,
        )
        .action(
            A::of::<api::EnvironmentClone>("Environment cloned")
                .role(Member)
                .scope(environment)
                .activity("environment.clone"),
            environment::clone,
        )
        .action(
            A::of::<api::EnvironmentBranch>("Environment branched")
                .role(Member)
                .scope(environment)
                .activity("environment.branch"),
            lifecycle::branch,
        )
        .action(
            A::of::<api::EnvironmentMerge>("Environment merged into its parent")
                .role(Member)
                .scope(environment)
                .activity("environment.merge"),
            lifecycle::merge,
        )
        .action(
            A::of::<api::EnvironmentSync>("Environment synced from its parent")
                .role(Member)
                .scope(environment)
                .activity("environment.sync"),
            lifecycle::sync,
        )
        .action(
            A::of::<api::EnvironmentPause>("Environment paused")
                .role(Member)
                .scope(environment)
                .activity("environment.pause"),
            lifecycle::pause,
        )
        .action(
            A::of::<api::EnvironmentResume>("Environment resumed")
                .role(Member)
                .scope(environment)
                .activity("environment.resume"),
            lifecycle::resume,
        )
        .action(
            A::of::<api::VariableCreate>("Variable created")
                .role(Member)
                .scope(at_level),
            variable::create,
        )
        .action(
            A::of::<api::VariableList>("Variables listed")
                .role(Viewer)
                .scope(at_level),
            variable::list,
        )
        .action(
            A::of::<api::VariableResolve>("Variables resolved")
                .role(Viewer)
                .scope(in_environment),
            variable::resolve,
        )
        .action(
            A::of::<api::VariableGet>("Variable found")
                .role(Viewer)
                .scope(variable),
            variable::get,
        )
        .action(
            A::of::<api::VariableUpdate>("Variable updated")
                .role(Member)
                .scope(variable),
            variable::update,
        )
        .action(
            A::of::<api::VariableDelete>("Variable deleted")
                .role(Member)
                .scope(variable),
            variable::delete,
        );
    let service = service
        .action(
            A::of::<api::ActivityList>("Activities listed")
                .role(Viewer)
                .scope(project),
            activity::list,
        )
        .action(
            A::of::<api::ActivityGet>("Activity found")
                .role(Viewer)
                .scope(activity),
            activity::get,
        )
        .action(
            A::of::<api::ActivityCancel>("Activity cancelled")
                .role(Member)
                .scope(activity),
            activity::cancel,
        );
    let service = service
        .action(
            A::of::<api::BackupCreate>("Backup taken")
                .role(Member)
                .scope(in_environment)
                .activity("environment.backup"),
            backup::create,
        )
        .action(
            A::of::<api::BackupList>("Backups listed")
                .role(Viewer)
                .scope(backed_up),
            backup::list,
        )
        .action(
            A::of::<api::BackupGet>("Backup found")
                .role(Viewer)
                .scope(a_backup),
            backup::get,
        )
        .action(
            A::of::<api::BackupDelete>("Backup deleted")
                .role(Admin)
                .scope(a_backup),
            backup::delete,
        )
        .action(
            A::of::<api::BackupRestore>("Backup restored")
                .role(Admin)
                .scope(a_backup)
                .activity("environment.restore"),
            backup::restore,
        );
    let service = service
        .action(
            A::of::<api::IntegrationCreate>("Integration created")
                .role(Admin)
                .scope(project)
                .shows_once(&["/secret"]),
            integration::create,
        )
        .action(
            A::of::<api::IntegrationList>("Integrations listed")
                .role(Viewer)
                .scope(project),
            integration::list,
        )
        .action(
            A::of::<api::IntegrationGet>("Integration found")
                .role(Viewer)
                .scope(an_integration),
            integration::get,
        )
        .action(
            A::of::<api::IntegrationUpdate>("Integration updated")
                .role(Admin)
                .scope(an_integration)
                .shows_once(&["/secret"]),
            integration::update,
        )
        .action(
            A::of::<api::IntegrationDelete>("Integration deleted")
                .role(Admin)
                .scope(an_integration),
            integration::delete,
        )
        .action(
            A::of::<api::IntegrationDeliveries>("Deliveries listed")
                .role(Viewer)
                .scope(an_integration),
            integration::deliveries,
        )
        .action(
            A::asynchronous("v1", "integration/deliver", "Delivery attempted").internal(),
            delivery::deliver,
        );
    schema::register(service)
}

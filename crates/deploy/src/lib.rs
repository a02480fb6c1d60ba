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

mod activity;
mod backup;
mod config;
mod delivery;
mod entity;
mod environment;
mod integration;
mod lifecycle;
mod schema;
mod settings;
mod variable;

use actiongate_kit::record;
use actiongate_service::{ActionSpec, Role, Scope, Service};

pub use config::Settings;

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
    let service = Service::new("deploy")
        .state(settings)
        .sweep_expired("backups", backup::sweep_expired)
        .sweep_expired("ended webhook deliveries", delivery::sweep_expired)
        .reseal_secrets("sensitive variables", variable::reseal_secrets)
        .reseal_secrets("sensitive values in backups", backup::reseal_secrets)
        .reseal_secrets("webhook secrets", integration::reseal_secrets)
        .on_activity_events(delivery::on_activity_events)
        .on_projects_deleted(environment::delete_in_projects)
        .action(
            A::sync("v1", "environment/create", "Environment created")
                .role(Member)
                .scope(project),
            environment::create,
        )
        .action(
            A::sync("v1", "environment/list", "Environments listed")
                .role(Viewer)
                .scope(project),
            environment::list,
        )
        .action(
            A::sync("v1", "environment/get", "Environment found")
                .role(Viewer)
                .scope(environment),
            environment::get,
        )
        .action(
            A::sync("v1", "environment/update", "Environment updated")
                .role(Member)
                .scope(environment),
            environment::update,
        )
        .action(
            A::sync("v1", "environment/delete", "Environment deleted")
                .role(Admin)
                .scope(environment),
            environment::delete,
        )
        .action(
            A::sync("v1", "environment/set_default", "Default environment set")
                .role(Admin)
                .scope(environment),
            environment::set_default,
        )
        .action(
            A::asynchronous("v1", "environment/clone", "Environment cloned")
                .role(Member)
                .scope(environment)
                .activity("environment.clone"),
            environment::clone,
        )
        .action(
            A::asynchronous("v1", "environment/branch", "Environment branched")
                .role(Member)
                .scope(environment)
                .activity("environment.branch"),
            lifecycle::branch,
        )
        .action(
            A::asynchronous(
                "v1",
                "environment/merge",
                "Environment merged into its parent",
            )
            .role(Member)
            .scope(environment)
            .activity("environment.merge"),
            lifecycle::merge,
        )
        .action(
            A::asynchronous(
                "v1",
                "environment/sync",
                "Environment synced from its parent",
            )
            .role(Member)
            .scope(environment)
            .activity("environment.sync"),
            lifecycle::sync,
        )
        .action(
            A::asynchronous("v1", "environment/pause", "Environment paused")
                .role(Member)
                .scope(environment)
                .activity("environment.pause"),
            lifecycle::pause,
        )
        .action(
            A::asynchronous("v1", "environment/resume", "Environment resumed")
                .role(Member)
                .scope(environment)
                .activity("environment.resume"),
            lifecycle::resume,
        )
        .action(
            A::sync("v1", "variable/create", "Variable created")
                .role(Member)
                .scope(at_level),
            variable::create,
        )
        .action(
            A::sync("v1", "variable/list", "Variables listed")
                .role(Viewer)
                .scope(at_level),
            variable::list,
        )
        .action(
            A::sync("v1", "variable/resolve", "Variables resolved")
                .role(Viewer)
                .scope(in_environment),
            variable::resolve,
        )
        .action(
            A::sync("v1", "variable/get", "Variable found")
                .role(Viewer)
                .scope(variable),
            variable::get,
        )
        .action(
            A::sync("v1", "variable/update", "Variable updated")
                .role(Member)
                .scope(variable),
            variable::update,
        )
        .action(
            A::sync("v1", "variable/delete", "Variable deleted")
                .role(Member)
                .scope(variable),
            variable::delete,
        );
    let service = service
        .action(
            A::sync("v1", "activity/list", "Activities listed")
                .role(Viewer)
                .scope(project),
            activity::list,
        )
        .action(
            A::sync("v1", "activity/get", "Activity found")
                .role(Viewer)
                .scope(activity),
            activity::get,
        )
        .action(
            A::sync("v1", "activity/cancel", "Activity cancelled")
                .role(Member)
                .scope(activity),
            activity::cancel,
        );
    let service = service
        .action(
            A::asynchronous("v1", "backup/create", "Backup taken")
                .role(Member)
                .scope(in_environment)
                .activity("environment.backup"),
            backup::create,
        )
        .action(
            A::sync("v1", "backup/list", "Backups listed")
                .role(Viewer)
                .scope(backed_up),
            backup::list,
        )
        .action(
            A::sync("v1", "backup/get", "Backup found")
                .role(Viewer)
                .scope(a_backup),
            backup::get,
        )
        .action(
            A::sync("v1", "backup/delete", "Backup deleted")
                .role(Admin)
                .scope(a_backup),
            backup::delete,
        )
        .action(
            A::asynchronous("v1", "backup/restore", "Backup restored")
                .role(Admin)
                .scope(a_backup)
                .activity("environment.restore"),
            backup::restore,
        );
    let service = service
        .action(
            A::sync("v1", "integration/create", "Integration created")
                .role(Admin)
                .scope(project),
            integration::create,
        )
        .action(
            A::sync("v1", "integration/list", "Integrations listed")
                .role(Viewer)
                .scope(project),
            integration::list,
        )
        .action(
            A::sync("v1", "integration/get", "Integration found")
                .role(Viewer)
                .scope(an_integration),
            integration::get,
        )
        .action(
            A::sync("v1", "integration/update", "Integration updated")
                .role(Admin)
                .scope(an_integration),
            integration::update,
        )
        .action(
            A::sync("v1", "integration/delete", "Integration deleted")
                .role(Admin)
                .scope(an_integration),
            integration::delete,
        )
        .action(
            A::sync("v1", "integration/deliveries", "Deliveries listed")
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

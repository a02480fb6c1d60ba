//! The deploy service: a project's environments (seed 004, domain
//! "deploy") and the variables they hold.
//!
//! - `environment/create|list|get|update|delete|set_default|clone`. One
//!   default per project, the first environment created; deleting the
//!   default or a non-empty environment needs `force: true`. `clone` is
//!   asynchronous: it copies the environment and its variables into a new
//!   one, reports progress to polls, and commits the copy at once when
//!   done, so the clone is never seen half made.
//! - `variable/create|list|get|update|delete`, per environment.
//!
//! Roles are the caller's in the environment's project
//! (`actiongate_kit::scope`): viewers read, members create and change
//! environments and variables, admins delete environments and choose the
//! default.

mod entity;
mod environment;
mod variable;

use actiongate_kit::record;
use actiongate_service::{ActionSpec, Role, Scope, Service};

/// The deploy service, ready to register with the gateway.
pub fn service() -> Service {
    use ActionSpec as A;
    use Role::{Admin, Member, Viewer};
    let project = Scope::project("project_id");
    let environment = record::<entity::environment::Model>("id");
    let in_environment = record::<entity::environment::Model>("environment_id");
    let variable = record::<variable::InProject>("id");
    Service::new("deploy")
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
                .scope(environment),
            environment::clone,
        )
        .action(
            A::sync("v1", "variable/create", "Variable created")
                .role(Member)
                .scope(in_environment),
            variable::create,
        )
        .action(
            A::sync("v1", "variable/list", "Variables listed")
                .role(Viewer)
                .scope(in_environment),
            variable::list,
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
        )
}

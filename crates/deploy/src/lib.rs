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
//! (`actiongate_console::scope`): viewers read, members create and change
//! environments and variables, admins delete environments and choose the
//! default.

mod environment;
mod variable;

use actiongate_service::{ActionSpec, Service};

/// The deploy service, ready to register with the gateway.
pub fn service() -> Service {
    use ActionSpec as A;
    Service::new("deploy")
        .action(
            A::sync("v1", "environment/create", "Environment created"),
            environment::create,
        )
        .action(
            A::sync("v1", "environment/list", "Environments listed"),
            environment::list,
        )
        .action(
            A::sync("v1", "environment/get", "Environment found"),
            environment::get,
        )
        .action(
            A::sync("v1", "environment/update", "Environment updated"),
            environment::update,
        )
        .action(
            A::sync("v1", "environment/delete", "Environment deleted"),
            environment::delete,
        )
        .action(
            A::sync("v1", "environment/set_default", "Default environment set"),
            environment::set_default,
        )
        .action(
            A::asynchronous("v1", "environment/clone", "Environment cloned"),
            environment::clone,
        )
        .action(
            A::sync("v1", "variable/create", "Variable created"),
            variable::create,
        )
        .action(
            A::sync("v1", "variable/list", "Variables listed"),
            variable::list,
        )
        .action(
            A::sync("v1", "variable/get", "Variable found"),
            variable::get,
        )
        .action(
            A::sync("v1", "variable/update", "Variable updated"),
            variable::update,
        )
        .action(
            A::sync("v1", "variable/delete", "Variable deleted"),
            variable::delete,
        )
}

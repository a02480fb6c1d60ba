//! The console service: organizations and projects.
//!
//! Service name `console`, alias `api.console` (the name the Pangea SDK's
//! management client uses). Version `v1beta` is Pangea's console API
//! exactly (seed 000); version `v1` is the fuller surface over the same
//! records, with seed 004's project fields.
//!
//! A token sees only its own organization (and, when limited to one
//! project, only that project); records it may not see are reported
//! exactly like records that do not exist. Viewers read; admins manage
//! projects; owners manage the organization (each action's role is in its
//! registration below), except for actions on one project: those take
//! the caller's role in that project, its membership or its organization
//! role, whichever is more ([`scope`]); the handler checks it.
//!
//! Other services that act inside projects build on [`scope`], [`fields`]
//! and [`page`].

mod contents;
pub mod fields;
mod icon;
mod org;
mod ownership;
pub mod page;
mod project;
pub mod scope;
mod settings;

use actiongate_service::{ActionSpec, Role, Service};

pub use settings::Settings;

/// The console service, ready to register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    Service::new("console")
        .alias("api.console")
        .state(settings)
        // Pangea's console API (seed 000).
        .action(
            A::sync("v1beta", "platform/org/get", "Organization found"),
            org::get,
        )
        .action(
            A::sync("v1beta", "platform/org/update", "Organization updated").role(Role::Owner),
            org::update_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/get", "Project found"),
            project::get,
        )
        .action(
            A::sync("v1beta", "platform/project/list", "Projects listed"),
            project::list_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/create", "Project created").role(Role::Admin),
            project::create_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/update", "Project updated"),
            project::update_v1beta,
        )
        .action(
            A::asynchronous("v1beta", "platform/project/delete", "Project deleted"),
            project::delete,
        )
        // The full surface.
        .action(
            A::sync("v1", "org/create", "Organization created").role(Role::Owner),
            org::create,
        )
        .action(A::sync("v1", "org/get", "Organization found"), org::get)
        .action(A::sync("v1", "org/list", "Organizations listed"), org::list)
        .action(
            A::sync("v1", "org/update", "Organization updated").role(Role::Owner),
            org::update,
        )
        .action(
            A::asynchronous("v1", "org/delete", "Organization deleted").role(Role::Owner),
            org::delete,
        )
        .action(
            A::sync("v1", "project/create", "Project created").role(Role::Admin),
            project::create,
        )
        .action(A::sync("v1", "project/get", "Project found"), project::get)
        .action(
            A::sync("v1", "project/list", "Projects listed"),
            project::list,
        )
        .action(
            A::sync("v1", "project/update", "Project updated"),
            project::update,
        )
        .action(
            A::asynchronous("v1", "project/delete", "Project deleted"),
            project::delete,
        )
        .action(
            A::sync("v1", "project/transfer", "Project ownership transferred"),
            ownership::transfer,
        )
        .action(
            A::sync("v1", "project/icon/upload", "Project icon uploaded").accepts_files(),
            icon::upload,
        )
        .action(
            A::sync("v1", "project/icon/delete", "Project icon deleted"),
            icon::delete,
        )
        .action(
            A::sync("v1", "project/icon/get", "Project icon found"),
            icon::get,
        )
}

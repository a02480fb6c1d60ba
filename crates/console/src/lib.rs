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
//! projects; owners manage the organization. Each action's least role and
//! the scope it is checked in are in its registration below: actions on one
//! project check the caller's role in that project, its membership or its
//! organization role, whichever is more.

mod contents;
mod entity;
mod icon;
mod org;
mod ownership;
mod project;
mod settings;

use actiongate_service::{ActionSpec, Role, Scope, Service};

pub use settings::Settings;

/// The console service, ready to register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    use Role::{Admin, Owner, Viewer};
    let project = Scope::project("id");
    Service::new("console")
        .alias("api.console")
        .state(settings)
        .on_projects_deleted(contents::delete_icons)
        // Pangea's console API (seed 000).
        .action(
            A::sync("v1beta", "platform/org/get", "Organization found").role(Viewer),
            org::get,
        )
        .action(
            A::sync("v1beta", "platform/org/update", "Organization updated").role(Owner),
            org::update_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/get", "Project found")
                .role(Viewer)
                .scope(project),
            project::get,
        )
        .action(
            A::sync("v1beta", "platform/project/list", "Projects listed").role(Viewer),
            project::list_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/create", "Project created").role(Admin),
            project::create_v1beta,
        )
        .action(
            A::sync("v1beta", "platform/project/update", "Project updated")
                .role(Admin)
                .scope(project),
            project::update_v1beta,
        )
        .action(
            A::asynchronous("v1beta", "platform/project/delete", "Project deleted")
                .role(Admin)
                .scope(project),
            project::delete,
        )
        // The full surface.
        .action(
            A::sync("v1", "org/create", "Organization created").role(Owner),
            org::create,
        )
        .action(
            A::sync("v1", "org/get", "Organization found").role(Viewer),
            org::get,
        )
        .action(
            A::sync("v1", "org/list", "Organizations listed").role(Viewer),
            org::list,
        )
        .action(
            A::sync("v1", "org/update", "Organization updated").role(Owner),
            org::update,
        )
        .action(
            A::asynchronous("v1", "org/delete", "Organization deleted").role(Owner),
            org::delete,
        )
        .action(
            A::sync("v1", "project/create", "Project created").role(Admin),
            project::create,
        )
        .action(
            A::sync("v1", "project/get", "Project found")
                .role(Viewer)
                .scope(project),
            project::get,
        )
        .action(
            A::sync("v1", "project/list", "Projects listed").role(Viewer),
            project::list,
        )
        .action(
            A::sync("v1", "project/update", "Project updated")
                .role(Admin)
                .scope(project),
            project::update,
        )
        .action(
            A::asynchronous("v1", "project/delete", "Project deleted")
                .role(Admin)
                .scope(project),
            project::delete,
        )
        .action(
            A::sync("v1", "project/transfer", "Project ownership transferred")
                .role(Owner)
                .scope(project),
            ownership::transfer,
        )
        .action(
            A::sync("v1", "project/icon/upload", "Project icon uploaded")
                .role(Admin)
                .scope(project)
                .accepts_files(),
            icon::upload,
        )
        .action(
            A::sync("v1", "project/icon/delete", "Project icon deleted")
                .role(Admin)
                .scope(project),
            icon::delete,
        )
        .action(
            A::sync("v1", "project/icon/get", "Project icon found")
                .role(Viewer)
                .scope(project),
            icon::get,
        )
}

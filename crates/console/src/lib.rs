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

pub mod api;
#[cfg(feature = "server")]
mod contents;
#[cfg(feature = "server")]
mod entity;
#[cfg(feature = "server")]
mod icon;
#[cfg(feature = "server")]
mod org;
#[cfg(feature = "server")]
mod ownership;
#[cfg(feature = "server")]
mod project;
#[cfg(feature = "server")]
mod settings;

#[cfg(feature = "server")]
use actiongate_service::{ActionSpec, Role, Scope, Service};

#[cfg(feature = "server")]
pub use settings::Settings;

/// The console service, ready to register with the gateway.
#[cfg(feature = "server")]
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    use Role::{Admin, Owner, Viewer};
    let project = Scope::project("id");
    Service::new(api::SERVICE)
        .alias("api.console")
        .state(settings)
        .on_projects_deleted(contents::delete_icons)
        // Pangea's console API (seed 000).
        .action(
            A::of::<api::PlatformOrgGetV1beta>("Organization found").role(Viewer),
            org::get,
        )
        .action(
            A::of::<api::PlatformOrgUpdateV1beta>("Organization updated").role(Owner),
            org::update_v1beta,
        )
        .action(
            A::of::<api::PlatformProjectGetV1beta>("Project found")
                .role(Viewer)
                .scope(project),
            project::get,
        )
        .action(
            A::of::<api::PlatformProjectListV1beta>("Projects listed").role(Viewer),
            project::list_v1beta,
        )
        .action(
            A::of::<api::PlatformProjectCreateV1beta>("Project created").role(Admin),
            project::create_v1beta,
        )
        .action(
            A::of::<api::PlatformProjectUpdateV1beta>("Project updated")
                .role(Admin)
                .scope(project),
            project::update_v1beta,
        )
        .action(
            A::of::<api::PlatformProjectDeleteV1beta>("Project deleted")
                .role(Admin)
                .scope(project),
            project::delete,
        )
        // The full surface.
        .action(
            A::of::<api::OrgCreate>("Organization created").role(Owner),
            org::create,
        )
        .action(
            A::of::<api::OrgGet>("Organization found").role(Viewer),
            org::get,
        )
        .action(
            A::of::<api::OrgList>("Organizations listed").role(Viewer),
            org::list,
        )
        .action(
            A::of::<api::OrgUpdate>("Organization updated").role(Owner),
            org::update,
        )
        .action(
            A::of::<api::OrgDelete>("Organization deleted").role(Owner),
            org::delete,
        )
        .action(
            A::of::<api::OrgTransfer>("Organization ownership transferred").role(Owner),
            org::transfer,
        )
        .action(
            A::of::<api::ProjectCreate>("Project created").role(Admin),
            project::create,
        )
        .action(
            A::of::<api::ProjectGet>("Project found")
                .role(Viewer)
                .scope(project),
            project::get,
        )
        .action(
            A::of::<api::ProjectList>("Projects listed").role(Viewer),
            project::list,
        )
        .action(
            A::of::<api::ProjectUpdate>("Project updated")
                .role(Admin)
                .scope(project),
            project::update,
        )
        .action(
            A::of::<api::ProjectDelete>("Project deleted")
                .role(Admin)
                .scope(project),
            project::delete,
        )
        .action(
            A::of::<api::ProjectTransfer>("Project ownership transferred")
                .role(Owner)
                .scope(project),
            ownership::transfer,
        )
        .action(
            A::of::<api::ProjectIconUpload>("Project icon uploaded")
                .role(Admin)
                .scope(project)
                .accepts_files(),
            icon::upload,
        )
        .action(
            A::of::<api::ProjectIconDelete>("Project icon deleted")
                .role(Admin)
                .scope(project),
            icon::delete,
        )
        .action(
            A::of::<api::ProjectIconGet>("Project icon found")
                .role(Viewer)
                .scope(project),
            icon::get,
        )
}

//! The access service: who may touch a project, and the record of what
//! they did (domain "access", seed 004).
//!
//! - Users: `user/me`; organization admins `user/create`.
//! - Project members: `member/list|add|update|remove`, with roles `owner,
//!   admin, member, viewer`; a project's one owner changes only by the
//!   console's `project/transfer`.
//! - Invites: `invite/create|list|cancel` by project admins,
//!   `invite/get|accept` by token, `invite/mine`.
//! - `audit/list`: the organization's audit trail, for its admins.
//!
//! Actions on one project check the caller's role in that project in the
//! handler (`actiongate_kit::scope`); the others are checked by the
//! gateway from their registration below.

mod audit;
mod entity;
mod invite;
mod member;
mod settings;
pub mod user;

use actiongate_kit::record;
use actiongate_service::{ActionSpec, Role, Scope, Service};

pub use settings::Settings;

/// The access service, ready to register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    use Role::{Admin, Viewer};
    let project = Scope::project("project_id");
    Service::new("access")
        .state(settings)
        .on_projects_deleted(invite::delete_in_projects)
        .action(
            A::sync("v1", "user/me", "Caller found").role(Viewer),
            user::me,
        )
        .action(
            A::sync("v1", "user/create", "User created").role(Admin),
            user::create,
        )
        .action(
            A::sync("v1", "member/list", "Members listed")
                .role(Viewer)
                .scope(project),
            member::list,
        )
        .action(
            A::sync("v1", "member/add", "Member added")
                .role(Admin)
                .scope(project),
            member::add,
        )
        .action(
            A::sync("v1", "member/update", "Member updated")
                .role(Admin)
                .scope(project),
            member::update,
        )
        // Anyone may leave a project; removing someone else needs an admin.
        .action(
            A::sync("v1", "member/remove", "Member removed")
                .role(Viewer)
                .scope(project),
            member::remove,
        )
        .action(
            A::sync("v1", "invite/create", "Invite created")
                .role(Admin)
                .scope(project),
            invite::create,
        )
        .action(
            A::sync("v1", "invite/list", "Invites listed")
                .role(Admin)
                .scope(project),
            invite::list,
        )
        .action(
            A::sync("v1", "invite/cancel", "Invite cancelled")
                .role(Admin)
                .scope(record::<entity::invite::Model>("id")),
            invite::cancel,
        )
        // By the invite's token: whoever holds it may look, and its invitee accept.
        .action(
            A::sync("v1", "invite/get", "Invite found").role(Viewer),
            invite::get,
        )
        .action(
            A::sync("v1", "invite/accept", "Invite accepted").role(Viewer),
            invite::accept,
        )
        .action(
            A::sync("v1", "invite/mine", "Invites listed").role(Viewer),
            invite::mine,
        )
        .action(
            A::sync("v1", "audit/list", "Audit events listed").role(Admin),
            audit::list,
        )
}

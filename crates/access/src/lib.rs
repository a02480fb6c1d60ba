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
//! handler (`actiongate_console::scope`); the others are checked by the
//! gateway from their registration below.

mod audit;
mod invite;
mod member;
mod settings;
pub mod user;

use actiongate_service::{ActionSpec, Role, Service};

pub use settings::Settings;

/// The access service, ready to register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    Service::new("access")
        .state(settings)
        .action(A::sync("v1", "user/me", "Caller found"), user::me)
        .action(
            A::sync("v1", "user/create", "User created").role(Role::Admin),
            user::create,
        )
        .action(A::sync("v1", "member/list", "Members listed"), member::list)
        .action(A::sync("v1", "member/add", "Member added"), member::add)
        .action(
            A::sync("v1", "member/update", "Member updated"),
            member::update,
        )
        .action(
            A::sync("v1", "member/remove", "Member removed"),
            member::remove,
        )
        .action(
            A::sync("v1", "invite/create", "Invite created"),
            invite::create,
        )
        .action(A::sync("v1", "invite/list", "Invites listed"), invite::list)
        .action(
            A::sync("v1", "invite/cancel", "Invite cancelled"),
            invite::cancel,
        )
        .action(A::sync("v1", "invite/get", "Invite found"), invite::get)
        .action(
            A::sync("v1", "invite/accept", "Invite accepted"),
            invite::accept,
        )
        .action(A::sync("v1", "invite/mine", "Invites listed"), invite::mine)
        .action(
            A::sync("v1", "audit/list", "Audit events listed").role(Role::Admin),
            audit::list,
        )
}

//! The access service: who may touch a project, and the record of what
//! they did (domain "access", seed 004).
//!
//! - Users: `user/me`; organization admins `user/create`.
//! - Members: `member/list|add|update|remove`, with roles `owner, admin,
//!   member, viewer`, of a project (`project_id`; its one owner changes
//!   only by the console's `project/transfer`) or of the organization
//!   (`org_id`; its owner only by `org/transfer`).
//! - Invites: `invite/create|list|cancel` by project admins (or, with
//!   `org_id`, organization admins, to the organization as a whole),
//!   `invite/get|accept` by token, `invite/mine`.
//! - `audit/list`: the organization's audit trail, for its admins.
//! - Teams: `team/create|get|list|update|delete`, `team/member/add|list|
//!   remove`, `team/grant|revoke`: a team carries a role onto a project or
//!   the whole organization to its members.
//! - Policies: `authz/policies` lists every action's policy code;
//!   `authz/check` answers whether the caller may call one, on given
//!   records, as the call itself would be decided.
//! - The event stream: `event/send` by members, `event/list|count|tags`
//!   (with the audit trail in it, as `Platform` events, for admins).
//! - Tokens: `token/create|list|get|update|revoke|rotate`, each caller's
//!   own, and every token of the organization for its admins; a token's
//!   secret is shown once.
//!
//! Actions on one project check the caller's role in that project in the
//! handler (`actiongate_kit::scope`); the others are checked by the
//! gateway from their registration below.

pub mod api;
#[cfg(feature = "server")]
mod audit;
#[cfg(feature = "server")]
mod authz;
#[cfg(feature = "server")]
mod entity;
#[cfg(feature = "server")]
mod event;
#[cfg(feature = "server")]
mod invite;
#[cfg(feature = "server")]
mod member;
#[cfg(feature = "server")]
mod org_member;
#[cfg(feature = "server")]
mod role;
#[cfg(feature = "server")]
mod schema;
#[cfg(feature = "server")]
mod settings;
#[cfg(feature = "server")]
mod team;
#[cfg(feature = "server")]
mod token;
#[cfg(feature = "server")]
pub mod user;

#[cfg(feature = "server")]
use std::time::Duration;

#[cfg(feature = "server")]
use actiongate_kit::record;
#[cfg(feature = "server")]
use actiongate_service::{ActionSpec, Role, Scope, Service};

#[cfg(feature = "server")]
pub use settings::Settings;

#[cfg(feature = "server")]
/// The access service, ready to register with the gateway.
pub fn service(settings: Settings) -> Service {
    use ActionSpec as A;
    use Role::{Admin, Member, Viewer};
    let project = Scope::project("project_id");
    let service = Service::new(api::SERVICE)
        .state(settings)
        .on_projects_deleted(invite::delete_in_projects)
        .on_projects_deleted(team::delete_grants_in_projects)
        .sweep_expired("events", event::sweep_expired);
    schema::register(service)
        .action(A::of::<api::UserMe>("Caller found").role(Viewer), user::me)
        .action(
            A::of::<api::UserCreate>("User created").role(Admin),
            user::create,
        )
        .action(
            A::of::<api::MemberList>("Members listed")
                .role(Viewer)
                .scope(project),
            member::list,
        )
        .action(
            A::of::<api::MemberAdd>("Member added")
                .role(Admin)
                .scope(project),
            member::add,
        )
        .action(
            A::of::<api::MemberUpdate>("Member updated")
                .role(Admin)
                .scope(project),
            member::update,
        )
        // Anyone may leave a project; removing someone else needs an admin.
        .action(
            A::of::<api::MemberRemove>("Member removed")
                .role(Viewer)
                .scope(project),
            member::remove,
        )
        .action(
            A::of::<api::InviteCreate>("Invite created")
                .role(Admin)
                .scope(project)
                .shows_once(&["/token"]),
            invite::create,
        )
        .action(
            A::of::<api::InviteList>("Invites listed")
                .role(Admin)
                .scope(project),
            invite::list,
        )
        .action(
            A::of::<api::InviteCancel>("Invite cancelled")
                .role(Admin)
                .scope(record::<entity::invite::Model>("id")),
            invite::cancel,
        )
        // By the invite's token: whoever holds it may look, and its invitee accept.
        .action(
            A::of::<api::InviteGet>("Invite found").role(Viewer),
            invite::get,
        )
        .action(
            A::of::<api::InviteAccept>("Invite accepted").role(Viewer),
            invite::accept,
        )
        .action(
            A::of::<api::InviteMine>("Invites listed").role(Viewer),
            invite::mine,
        )
        .action(
            A::of::<api::AuditList>("Audit events listed").role(Admin),
            audit::list,
        )
        .action(
            A::of::<api::AuthzPolicies>("Policies listed").role(Viewer),
            authz::policies,
        )
        .action(
            A::of::<api::AuthzCheck>("Decided").role(Viewer),
            authz::check,
        )
        .action(
            A::of::<api::EventSend>("Event sent").role(Member),
            event::send,
        )
        .action(
            A::of::<api::EventList>("Events listed").role(Viewer),
            event::list,
        )
        .action(
            A::of::<api::EventCount>("Events counted").role(Viewer),
            event::count,
        )
        .action(
            A::of::<api::EventTags>("Event tags listed").role(Viewer),
            event::tags,
        )
        // Custom roles: organization admins write them, anyone reads them.
        .action(
            A::of::<api::RoleCreate>("Role created").role(Admin),
            role::create,
        )
        .action(A::of::<api::RoleGet>("Role found").role(Viewer), role::get)
        .action(
            A::of::<api::RoleList>("Roles listed").role(Viewer),
            role::list,
        )
        .action(
            A::of::<api::RoleUpdate>("Role updated").role(Admin),
            role::update,
        )
        .action(
            A::of::<api::RoleDelete>("Role deleted").role(Admin),
            role::delete,
        )
        // Teams: organization admins manage them; anyone may leave one.
        .action(
            A::of::<api::TeamCreate>("Team created").role(Admin),
            team::create,
        )
        .action(A::of::<api::TeamGet>("Team found").role(Viewer), team::get)
        .action(
            A::of::<api::TeamList>("Teams listed").role(Viewer),
            team::list,
        )
        .action(
            A::of::<api::TeamUpdate>("Team updated").role(Admin),
            team::update,
        )
        .action(
            A::of::<api::TeamDelete>("Team deleted").role(Admin),
            team::delete,
        )
        .action(
            A::of::<api::TeamMemberAdd>("Team member added").role(Admin),
            team::add_member,
        )
        .action(
            A::of::<api::TeamMemberList>("Team members listed").role(Viewer),
            team::list_members,
        )
        .action(
            A::of::<api::TeamMemberRemove>("Team member removed").role(Viewer),
            team::remove_member,
        )
        .action(
            A::of::<api::TeamGrant>("Role granted to the team").role(Admin),
            team::grant,
        )
        .action(
            A::of::<api::TeamRevoke>("Role revoked from the team").role(Admin),
            team::revoke,
        )
        // A token's secret is answered once; a slow database answers late
        // rather than park the call, whose kept result holds no secret.
        .action(
            A::of::<api::TokenCreate>("Token created")
                .role(Member)
                .threshold(Duration::from_secs(30))
                .shows_once(&["/secret"]),
            token::create,
        )
        .action(
            A::of::<api::TokenList>("Tokens listed").role(Viewer),
            token::list,
        )
        .action(
            A::of::<api::TokenGet>("Token found").role(Viewer),
            token::get,
        )
        .action(
            A::of::<api::TokenUpdate>("Token updated").role(Viewer),
            token::update,
        )
        .action(
            A::of::<api::TokenRevoke>("Token revoked").role(Viewer),
            token::revoke,
        )
        .action(
            A::of::<api::TokenRotate>("Token rotated")
                .role(Member)
                .threshold(Duration::from_secs(30))
                .shows_once(&["/secret"]),
            token::rotate,
        )
}

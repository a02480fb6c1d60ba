//! The access service's contract: each action's declaration and its input
//! and output types. No I/O: this is all that is compiled without the
//! `server` feature, and what `actiongate-client` calls.

pub mod audit;
pub mod authz;
pub mod event;
pub mod invite;
pub mod member;
pub mod role;
pub mod team;
pub mod token;
pub mod user;

use actiongate_wire::Page;

actiongate_wire::actions! {
    service "access";
    UserMe: sync "v1" "user/me", user::Empty => user::Me;
    UserCreate: sync "v1" "user/create", user::CreateUser => user::User;
    MemberList: sync "v1" "member/list", member::ListMembers => Page<member::Member>;
    MemberAdd: sync "v1" "member/add", member::AddMember => member::Member;
    MemberUpdate: sync "v1" "member/update", member::AddMember => member::Member;
    MemberRemove: sync "v1" "member/remove", member::RemoveMember => member::Member;
    InviteCreate: sync "v1" "invite/create", invite::CreateInvite => invite::Invite;
    InviteList: sync "v1" "invite/list", invite::ListInvites => Page<invite::Invite>;
    InviteCancel: sync "v1" "invite/cancel", invite::InviteId => invite::Invite;
    InviteGet: sync "v1" "invite/get", invite::InviteToken => invite::Invite;
    InviteAccept: sync "v1" "invite/accept", invite::InviteToken => invite::Invite;
    InviteMine: sync "v1" "invite/mine", invite::Mine => Page<invite::Invite>;
    AuditList: sync "v1" "audit/list", audit::ListAudit => Page<audit::AuditEvent>;
    AuthzPolicies: sync "v1" "authz/policies", authz::ListPolicies => authz::Policies;
    AuthzCheck: sync "v1" "authz/check", authz::Check => authz::Decision;
    EventSend: sync "v1" "event/send", event::SendEvent => event::Event;
    EventList: sync "v1" "event/list", event::ListEvents => Page<event::Event>;
    EventCount: sync "v1" "event/count", event::EventFilter => event::EventCount;
    EventTags: sync "v1" "event/tags", event::ListTags => event::EventTags;
    RoleCreate: sync "v1" "role/create", role::CreateRole => role::RoleView;
    RoleGet: sync "v1" "role/get", role::RoleId => role::RoleView;
    RoleList: sync "v1" "role/list", role::ListRoles => Page<role::RoleView>;
    RoleUpdate: sync "v1" "role/update", role::UpdateRole => role::RoleView;
    RoleDelete: sync "v1" "role/delete", role::RoleId => role::RoleView;
    TeamCreate: sync "v1" "team/create", team::CreateTeam => team::Team;
    TeamGet: sync "v1" "team/get", team::TeamId => team::Team;
    TeamList: sync "v1" "team/list", team::ListTeams => Page<team::Team>;
    TeamUpdate: sync "v1" "team/update", team::UpdateTeam => team::Team;
    TeamDelete: sync "v1" "team/delete", team::TeamId => team::Team;
    TeamMemberAdd: sync "v1" "team/member/add", team::TeamMemberRef => team::TeamMember;
    TeamMemberList: sync "v1" "team/member/list", team::ListTeamMembers => Page<team::TeamMember>;
    TeamMemberRemove: sync "v1" "team/member/remove", team::TeamMemberRef => team::TeamMember;
    TeamGrant: sync "v1" "team/grant", team::GrantTeam => team::Team;
    TeamRevoke: sync "v1" "team/revoke", team::RevokeTeam => team::Team;
    TokenCreate: sync "v1" "token/create", token::CreateToken => token::IssuedToken;
    TokenList: sync "v1" "token/list", token::ListTokens => Page<token::Token>;
    TokenGet: sync "v1" "token/get", token::TokenId => token::Token;
    TokenUpdate: sync "v1" "token/update", token::UpdateToken => token::Token;
    TokenRevoke: sync "v1" "token/revoke", token::TokenId => token::Token;
    TokenRotate: sync "v1" "token/rotate", token::RotateToken => token::IssuedToken;
}

//! Teams: an organization's named groups of members, each carrying a role
//! onto projects or onto the whole organization by its grants.

use actiongate_wire::fields::{Description, Name, Slug};
use actiongate_wire::{RoleName, Timestamp};
use serde::{Deserialize, Serialize};

/// A role a team carries: onto one project, or (no `project_id`) the
/// whole organization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeamRole {
    pub project_id: Option<String>,
    /// Built in, or one of the organization's custom roles.
    pub role: RoleName,
}

/// A team as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Team {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// How many members it has.
    pub members: u64,
    /// The roles it carries to them.
    pub grants: Vec<TeamRole>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateTeam {
    /// The caller's organization (the only one it may name).
    pub org_id: Option<String>,
    /// Unique in the organization.
    pub name: Slug,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeamId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListTeams {
    /// Only the team of this name.
    pub name: Option<String>,
    /// Only the teams this user is in.
    pub member: Option<String>,
    /// `name`, `created_at` or `updated_at`, `-` first for descending.
    pub order_by: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateTeam {
    pub id: String,
    pub name: Option<Slug>,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
}

/// A team's member as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeamMember {
    pub team_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TeamMemberRef {
    pub team_id: String,
    pub user_id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListTeamMembers {
    pub team_id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GrantTeam {
    pub team_id: String,
    /// The project it carries `role` onto; the whole organization when
    /// left out.
    pub project_id: Option<String>,
    /// Built in, or one of the organization's custom roles.
    pub role: RoleName,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevokeTeam {
    pub team_id: String,
    pub project_id: Option<String>,
}

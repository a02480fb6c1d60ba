//! Roles (seed 003): the four built in, and an organization's custom
//! roles, each a named set of permission rules. Teams hold them by their
//! grants (`team/grant`), tokens carry them (`token/create`).

use actiongate_wire::fields::{Description, Name, Slug};
use actiongate_wire::{Rule, Timestamp};
use serde::{Deserialize, Serialize};

/// A role as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleView {
    /// `rol_...`, or for a built-in role its name.
    pub id: String,
    /// Unset for a built-in role.
    pub org_id: Option<String>,
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Built in: listed with its rules, never changed.
    pub builtin: bool,
    pub rules: Vec<Rule>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateRole {
    /// The caller's organization (the only one it may name).
    pub org_id: Option<String>,
    /// Unique in the organization, and none of the built-in names.
    pub name: Slug,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    /// At least one; none may allow an action needing more than the
    /// caller's own role.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RoleId {
    /// `rol_...`, or a built-in role's name.
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListRoles {
    /// Only the role of this name.
    pub name: Option<String>,
    /// Only the built-in roles (`true`) or only the custom ones (`false`).
    pub builtin: Option<bool>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateRole {
    pub id: String,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    /// Replaces every rule; holds from the next request of everyone
    /// holding the role.
    pub rules: Option<Vec<Rule>>,
}

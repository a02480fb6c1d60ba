//! Members and their roles: of a project (`project_id`), or of an
//! organization (`org_id`). Each call names exactly one of the two.

use actiongate_wire::{Role, Timestamp};
use serde::{Deserialize, Serialize};

/// A member as the API shows it: of a project, or of an organization.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    /// Set for a project's member.
    pub project_id: Option<String>,
    /// Set for an organization's member.
    pub org_id: Option<String>,
    pub user_id: String,
    pub email: String,
    pub name: String,
    /// The best role the member holds there.
    pub role: String,
    /// In a project: the teams through which the member holds a role
    /// there (their grants onto it), if any.
    #[serde(default)]
    pub teams: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListMembers {
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddMember {
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoveMember {
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub user_id: String,
}

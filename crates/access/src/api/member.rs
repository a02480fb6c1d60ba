//! A project's members and their roles.

use actiongate_wire::{Role, Timestamp};
use serde::{Deserialize, Serialize};

/// A project member as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    pub project_id: String,
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListMembers {
    pub project_id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AddMember {
    pub project_id: String,
    pub user_id: String,
    pub role: Role,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RemoveMember {
    pub project_id: String,
    pub user_id: String,
}

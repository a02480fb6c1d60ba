//! Users: the caller, and users an owner creates.

use actiongate_wire::{Role, Timestamp};
use serde::{Deserialize, Serialize};

/// A user as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The caller: its user, and where its token acts.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Me {
    #[serde(flatten)]
    pub user: User,
    pub org_id: String,
    /// Its role in the organization, as the token may use it.
    pub role: Role,
    /// Set when the token is limited to one project.
    pub project_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Empty {}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateUser {
    pub email: String,
    pub name: String,
    /// The new user's role in the caller's organization; `member` unless
    /// said.
    #[serde(default = "member")]
    pub role: Role,
}

fn member() -> Role {
    Role::Member
}

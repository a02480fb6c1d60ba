//! Invitations to a project or to an organization as a whole, as the API
//! shows and takes them.

use actiongate_wire::{Role, Timestamp};
use serde::{Deserialize, Serialize};

/// An invite as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Invite {
    pub id: String,
    /// The project it is to; unset for an invite to the organization.
    pub project_id: Option<String>,
    pub org_id: String,
    pub email: String,
    pub role: String,
    /// `pending`, `accepted`, `cancelled` or `expired`.
    pub state: String,
    pub invited_by: String,
    pub accepted_by: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub expires_at: Timestamp,
    /// Only in `invite/create`'s answer: the one time it is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The project's name, for an invitee deciding whether to accept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateInvite {
    /// The project to invite to; or `org_id`, to invite to the whole
    /// organization.
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListInvites {
    pub project_id: Option<String>,
    pub org_id: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InviteId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InviteToken {
    pub token: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Mine {
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

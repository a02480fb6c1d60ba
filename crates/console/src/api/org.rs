//! Organizations as the API shows and takes them.

use actiongate_wire::fields::Name;
use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// An organization as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Organization {
    pub id: String,
    pub name: String,
    /// The owner's user id.
    pub owner: String,
    pub owner_email: String,
    pub csp: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OrgId {
    pub id: String,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateOrgV1beta {
    pub id: String,
    pub name: Name,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateOrg {
    pub id: String,
    pub name: Option<Name>,
    pub if_updated_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateOrg {
    pub name: Name,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListOrgs {
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "OrgDeleted")]
pub struct Deleted {}

/// Hands the organization to another of its members.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TransferOrg {
    pub id: String,
    /// A member of the organization, who becomes its owner.
    pub new_owner_id: String,
}

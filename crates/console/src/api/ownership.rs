//! Handing a project to another of its members.

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Transfer {
    pub id: String,
    pub new_owner_id: String,
}

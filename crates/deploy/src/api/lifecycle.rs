//! Branching an environment from its parent, and syncing it from one.

use super::environment::EnvironmentType;
use actiongate_wire::fields::{Name, Slug};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "BranchEnvironment")]
pub struct Branch {
    /// The parent.
    pub id: String,
    /// The new environment's name.
    pub name: Slug,
    pub display_name: Option<Name>,
    /// `staging` or `development` (the parent's when left out, unless it is
    /// production: then `development`).
    pub r#type: Option<EnvironmentType>,
    /// Whether the child starts with a copy of the parent's variables.
    #[serde(default = "super::yes")]
    pub clone_data: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "SyncEnvironment")]
pub struct Sync {
    /// The child, which receives its parent's.
    pub id: String,
    /// Whether the parent's variables are copied in.
    #[serde(default = "super::yes")]
    pub variables: bool,
    /// Whether the parent's settings are laid over the child's.
    #[serde(default)]
    pub settings: bool,
}

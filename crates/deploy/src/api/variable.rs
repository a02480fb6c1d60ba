//! Variables of a project or an environment, and their resolution
//! along the environment's ancestry.

use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// A variable as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Variable {
    pub id: String,
    pub project_id: String,
    /// Unset for a project-level variable.
    pub environment_id: Option<String>,
    pub name: String,
    /// Null when sensitive: the value is never shown again.
    pub value: Option<String>,
    pub is_json: bool,
    pub is_sensitive: bool,
    pub is_inheritable: bool,
    /// The same as `is_inheritable`, under its earlier name.
    pub inheritable: bool,
    pub is_enabled: bool,
    pub visible_build: bool,
    pub visible_runtime: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateVariable")]
pub struct Create {
    /// A project-level variable's project; or give `environment_id`.
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub is_json: bool,
    /// Sealed at rest and never shown again.
    #[serde(default)]
    pub is_sensitive: bool,
    #[serde(default = "super::yes", alias = "inheritable")]
    pub is_inheritable: bool,
    #[serde(default = "super::yes")]
    pub is_enabled: bool,
    #[serde(default = "super::yes")]
    pub visible_build: bool,
    #[serde(default = "super::yes")]
    pub visible_runtime: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListVariables")]
pub struct List {
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VariableId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateVariable")]
pub struct Update {
    pub id: String,
    pub value: Option<String>,
    pub is_json: Option<bool>,
    /// Only ever turned on: a sensitive variable stays sensitive.
    pub is_sensitive: Option<bool>,
    #[serde(alias = "inheritable")]
    pub is_inheritable: Option<bool>,
    pub is_enabled: Option<bool>,
    pub visible_build: Option<bool>,
    pub visible_runtime: Option<bool>,
    pub if_updated_at: Option<Timestamp>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ResolveVariables")]
pub struct Resolve {
    pub environment_id: String,
}

/// Where an effective variable comes from.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Source {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
}

/// One variable of an environment's effective set.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resolved {
    pub name: String,
    /// Null when sensitive.
    pub value: Option<String>,
    pub is_json: bool,
    pub is_sensitive: bool,
    pub visible_build: bool,
    pub visible_runtime: bool,
    pub source: Source,
    /// Whether it comes from the project or an ancestor, not the
    /// environment itself.
    pub inherited: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ResolvedVariables")]
pub struct ResolvedSet {
    pub environment_id: String,
    /// By name.
    pub variables: Vec<Resolved>,
}

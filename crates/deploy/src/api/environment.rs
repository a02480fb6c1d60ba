//! Environments as the API shows and takes them.

use super::settings::{Settings, SettingsPatch};
use actiongate_wire::fields::{Color, Description, GitBranch, Name, Slug};
use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// What an environment is for (seed 004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EnvironmentType {
    Production,
    Staging,
    Development,
}

/// An environment as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Environment {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub display_name: Option<String>,
    pub r#type: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub git_branch: Option<String>,
    pub is_default: bool,
    /// `active` or `paused`.
    pub status: String,
    /// The environment this one was cloned or branched from.
    pub parent: Option<String>,
    pub settings: Settings,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateEnvironment")]
pub struct Create {
    pub project_id: String,
    pub name: Slug,
    pub display_name: Option<Name>,
    pub r#type: Option<EnvironmentType>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    pub git_branch: Option<GitBranch>,
    pub settings: Option<SettingsPatch>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnvironmentId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "EnvironmentFilter")]
pub struct Filter {
    pub r#type: Option<EnvironmentType>,
    pub is_default: Option<bool>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListEnvironments")]
pub struct List {
    pub project_id: String,
    #[serde(default)]
    pub filter: Filter,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// `field` or `-field`: `name`, `created_at`, `updated_at`, `type`.
    pub order_by: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateEnvironment")]
pub struct Update {
    pub id: String,
    pub name: Option<Slug>,
    pub display_name: Option<Name>,
    pub r#type: Option<EnvironmentType>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    pub git_branch: Option<GitBranch>,
    /// Keys to set; `null` removes one.
    pub settings: Option<SettingsPatch>,
    pub if_updated_at: Option<Timestamp>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delete {
    pub id: String,
    /// Needed to delete the default environment, or one that holds
    /// variables.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Clone {
    /// The environment to copy.
    pub id: String,
    /// The new environment's name; the rest defaults to the source's.
    pub name: Slug,
    pub display_name: Option<Name>,
    pub r#type: Option<EnvironmentType>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    pub git_branch: Option<GitBranch>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "EnvironmentDeleted")]
pub struct Deleted {
    pub id: String,
    /// The environment that became the default, when the default was
    /// deleted and another remains.
    pub new_default: Option<String>,
}

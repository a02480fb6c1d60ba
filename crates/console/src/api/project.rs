//! Projects as the API shows and takes them: Pangea's `v1beta` shapes
//! and the fuller `v1` ones.

use actiongate_wire::fields::{Color, Description, Name, ShortText};
use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// A project as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Project {
    pub id: String,
    pub name: String,
    /// The organization's id.
    pub org: String,
    pub geo: String,
    pub region: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon_path: Option<String>,
    pub single_server_mode: bool,
    pub default_server_id: Option<String>,
    pub auto_error_tracking_enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProjectId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ProjectFilter")]
pub struct Filter {
    /// Comma-separated keywords matched against id, name and owner's email.
    pub search: Option<String>,
    pub geo: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListV1beta {
    pub org_id: String,
    #[serde(default)]
    pub filter: Filter,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListProjects")]
pub struct List {
    /// Defaults to the token's organization.
    pub org_id: Option<String>,
    #[serde(default)]
    pub filter: Filter,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// `field` or `-field`: `name`, `created_at`, `updated_at`, `geo`, `region`.
    pub order_by: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreateV1beta {
    pub org_id: String,
    pub name: Name,
    pub geo: String,
    pub region: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateProject")]
pub struct Create {
    /// Defaults to the token's organization.
    pub org_id: Option<String>,
    pub name: Name,
    /// Defaults to the configured `default_geo`.
    pub geo: Option<String>,
    pub region: Option<String>,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    #[serde(default)]
    pub single_server_mode: bool,
    pub default_server_id: Option<ShortText>,
    #[serde(default)]
    pub auto_error_tracking_enabled: bool,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpdateV1beta {
    pub id: String,
    pub name: Name,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateProject")]
pub struct Update {
    pub id: String,
    pub name: Option<Name>,
    pub display_name: Option<Name>,
    pub description: Option<Description>,
    pub color: Option<Color>,
    pub single_server_mode: Option<bool>,
    pub default_server_id: Option<ShortText>,
    pub auto_error_tracking_enabled: Option<bool>,
    pub if_updated_at: Option<Timestamp>,
}

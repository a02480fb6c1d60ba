//! `variables`: a project's variables (no `environment_id`) and its
//! environments'. An environment's override the project's and, when
//! inheritable, its descendants' (see `crate::variable::resolve`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "variables")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    /// Unset for a project-level variable.
    pub environment_id: Option<String>,
    pub name: String,
    /// The value; when `is_sensitive`, sealed by the key `key_id` names.
    pub value: String,
    /// Whether the value is JSON text.
    pub is_json: bool,
    /// Never shown again once written.
    pub is_sensitive: bool,
    /// Whether child environments receive it.
    pub is_inheritable: bool,
    /// Disabled variables are left out of the effective set.
    pub is_enabled: bool,
    pub visible_build: bool,
    pub visible_runtime: bool,
    /// The key that sealed a sensitive value.
    pub key_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

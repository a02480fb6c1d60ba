//! `environments`: a project's environments (seed 004). Names are unique
//! in their project, and at most one environment per project is the
//! default.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "environments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub display_name: Option<String>,
    /// `production`, `staging` or `development`.
    pub r#type: String,
    pub description: Option<String>,
    pub color: Option<String>,
    pub git_branch: Option<String>,
    pub is_default: bool,
    /// `active` or `paused`.
    pub status: String,
    /// The environment this one was cloned or branched from.
    pub parent_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A JSON object (see `crate::settings`).
    pub settings: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

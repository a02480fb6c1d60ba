//! `projects`: the console's projects (seed 000 fields plus seed 004's).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// The user who owns the project (its creator until transferred).
    pub owner_id: String,
    pub name: String,
    pub geo: String,
    pub region: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub icon_path: Option<String>,
    pub single_server_mode: bool,
    pub default_server_id: Option<String>,
    pub auto_error_tracking_enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

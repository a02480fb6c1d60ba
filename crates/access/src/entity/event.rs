//! `events`: what was sent with `event/send`, kept until `expires_at`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// `Custom`, `Monitoring`, `Platform` or `Cloud`.
    pub r#type: String,
    /// `info`, `warn`, `err` or `crit`.
    pub severity: String,
    pub title: String,
    pub message: String,
    pub icon: Option<String>,
    pub color: Option<String>,
    /// Who sent it.
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

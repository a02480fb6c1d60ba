//! `integrations`: a project's webhooks (see `crate::integration`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    /// `webhook`.
    pub r#type: String,
    pub url: String,
    /// The event patterns it takes, a JSON array.
    pub events: String,
    /// The signing secret, sealed by the key `key_id` names.
    pub secret: String,
    pub key_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

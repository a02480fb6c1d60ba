//! `delivery_attempts`: each try of a delivery.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub delivery_id: String,
    pub integration_id: String,
    /// 1 for the first try.
    pub attempt: i32,
    /// The answer's HTTP status, if one came.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    /// What went wrong, when no 2xx came.
    pub error: Option<String>,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

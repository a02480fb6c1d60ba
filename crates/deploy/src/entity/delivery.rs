//! `deliveries`: an activity event on its way to one webhook.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    /// Sent as `X-Actiongate-Delivery`, the same on every attempt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub integration_id: String,
    pub project_id: String,
    pub activity_id: String,
    /// `activity.complete`, ...
    pub event: String,
    /// The body sent, made when the event was taken.
    pub payload: String,
    /// `pending`, `delivered`, `failed` (given up) or `abandoned` (its
    /// integration was deleted).
    pub status: String,
    pub attempts: i32,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
    pub next_attempt_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

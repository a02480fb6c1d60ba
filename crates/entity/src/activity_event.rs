//! `activity_events`: the activity outbox. One row for each state an
//! activity enters, written with the job's change and taken (then
//! deleted) by the services that act on it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "activity_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The activity (its job's request id).
    pub request_id: String,
    /// `pending`, `in_progress`, `complete` or `cancelled`.
    pub state: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

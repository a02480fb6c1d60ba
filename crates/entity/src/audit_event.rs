//! `audit_events`: who changed what, when, and by which request. The
//! gateway writes one with every call that changes something, in the same
//! transaction as the change.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    pub request_id: String,
    pub user_id: String,
    pub token_id: String,
    /// `service/version/path`, such as `deploy/v1/environment/create`.
    pub action: String,
    /// The record the call was about, when its handler named one.
    pub target: Option<String>,
    /// The project the change was made in, when the action's scope is one.
    pub project_id: Option<String>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

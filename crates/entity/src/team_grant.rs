//! `team_grants`: a role a team carries to its members, onto one project
//! or (with no `project_id`) the whole organization.

use sea_orm::entity::prelude::*;

/// A grant's `place` when it is onto the whole organization.
pub const ORG: &str = "org";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "team_grants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: String,
    /// The project's id, or [`ORG`]: one grant per team and place.
    #[sea_orm(primary_key, auto_increment = false)]
    pub place: String,
    pub project_id: Option<String>,
    /// `owner`, `admin`, `member` or `viewer`.
    pub role: String,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

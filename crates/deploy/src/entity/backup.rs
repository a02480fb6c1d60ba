//! `backups`: snapshots of an environment (see `crate::backup`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "backups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub project_id: String,
    /// The environment backed up; it may since have been deleted.
    pub environment_id: String,
    /// Its name when it was backed up.
    pub environment_name: String,
    /// Taken while the environment's writes waited.
    pub safe: bool,
    /// The size of `contents`, in bytes.
    pub size: i64,
    /// The snapshot, as JSON (`crate::backup::Contents`).
    pub contents: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

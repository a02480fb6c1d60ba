//! `environment_variables`: what an environment holds; a clone copies
//! them, and an environment that has any is not empty.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "environment_variables")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub environment_id: String,
    pub name: String,
    pub value: String,
    /// Whether `value` is JSON text.
    pub is_json: bool,
    /// Whether environments cloned or branched from this one receive it.
    pub inheritable: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

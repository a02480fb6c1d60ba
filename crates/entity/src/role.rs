//! `roles`: an organization's custom roles, each a named set of
//! permission rules, held through team grants ([`super::team_grant`]) or
//! carried by tokens ([`super::token`]), both naming it by `name`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub org_id: String,
    /// A slug, unique in its organization and never a built-in role's.
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The rules, a JSON array of `actiongate_wire::Rule`.
    pub rules: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

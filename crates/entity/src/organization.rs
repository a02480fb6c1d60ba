//! `organizations`: the top of the tenancy tree.

use sea_orm::entity::prelude::*;
use sea_orm::Set;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "organizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// The owning user's id.
    pub owner_id: String,
    /// Where the organization's data lives; free text for a self-hosted gateway.
    pub csp: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Creates an organization with `owner_id` as its owner member.
pub async fn create_with_owner(
    db: &impl ConnectionTrait,
    id: String,
    name: String,
    owner_id: String,
    csp: String,
) -> Result<Model, DbErr> {
    let now = actiongate_wire::Timestamp::now_ms();
    let org = ActiveModel {
        id: Set(id),
        name: Set(name),
        owner_id: Set(owner_id.clone()),
        csp: Set(csp),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await?;
    crate::org_member::ActiveModel {
        org_id: Set(org.id.clone()),
        user_id: Set(owner_id),
        role: Set(crate::org_member::OWNER.to_owned()),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(org)
}

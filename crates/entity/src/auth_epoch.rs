//! `auth_epochs`: one row whose `epoch` grows with every change that can
//! invalidate a verified token (a revocation, a role or membership change).
//! Gateways compare it with the epoch their token cache was filled under.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_epochs")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub epoch: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Moves the epoch on, in the caller's transaction: verified tokens cached
/// anywhere stop being trusted from the next request.
pub async fn bump(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
    Entity::update_many()
        .col_expr(Column::Epoch, Expr::col(Column::Epoch).add(1))
        .filter(Column::Id.eq(1))
        .exec(conn)
        .await
        .map(|_| ())
}

//! Who a call acts for, as a person reads it: for activity descriptions
//! and log lines ("dev@example.com branched production into feature-x").

use actiongate_entity::user;
use actiongate_service::Ctx;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

/// The caller's email, or its user id if the user is gone.
pub async fn name(ctx: &Ctx, db: &impl ConnectionTrait) -> Result<String, DbErr> {
    let user_id = &ctx.principal.user_id;
    Ok(user::Entity::find_by_id(user_id.as_str())
        .one(db)
        .await?
        .map_or_else(|| user_id.clone(), |user| user.email))
}

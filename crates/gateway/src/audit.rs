//! The audit trail: one `audit_events` row for every call that commits a
//! change, written by the gateway in the transaction that commits it, so
//! a change and its record of who made it stand or fall together.
//! Handlers add nothing but, optionally, the record they touched
//! ([`Ctx::audit_target`]).

use actiongate_entity::audit_event;
use actiongate_service::Ctx;
use actiongate_wire::{new_id, Timestamp};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

/// Records that `ctx`'s call changed something.
pub async fn record(db: &impl ConnectionTrait, ctx: &Ctx) -> Result<(), DbErr> {
    let principal = &ctx.principal;
    let event = audit_event::ActiveModel {
        id: Set(new_id("aud")),
        org_id: Set(principal.org_id.clone()),
        request_id: Set(ctx.request_id.to_string()),
        user_id: Set(principal.user_id.clone()),
        token_id: Set(principal.token_id.clone()),
        action: Set(ctx.action.to_string()),
        target: Set(ctx.audited_target()),
        project_id: Set(ctx.project_scope().map(str::to_owned)),
        created_at: Set(Timestamp::now_ms()),
    };
    audit_event::Entity::insert(event)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

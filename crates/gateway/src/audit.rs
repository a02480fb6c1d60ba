//! The audit trail: one `audit_events` row for every call that commits a
//! change, written by the gateway in the transaction that commits it, so
//! a change and its record of who made it stand or fall together.
//! Handlers add nothing but, optionally, the record they touched
//! ([`Ctx::audit_target`]).
//!
//! A call forwarded to an upstream service writes nothing here; its
//! success is its change ([`Ctx::audit_success_as`]), recorded with its
//! result: in the job's final write, or group-committed before a direct
//! answer.

use actiongate_entity::audit_event;
use actiongate_service::Ctx;
use actiongate_wire::{new_id, Status, Timestamp};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::Outcome;

/// Records that `ctx`'s call changed something.
pub async fn record(db: &impl ConnectionTrait, ctx: &Ctx) -> Result<(), DbErr> {
    audit_event::Entity::insert(event(ctx, ctx.action.to_string()))
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// The event of a call that ended in `outcome`, when its success is its
/// change and it succeeded. A job the gateway started itself (no token)
/// is not the callers' doing, and has none.
pub fn of_success(ctx: &Ctx, outcome: &Outcome) -> Option<audit_event::ActiveModel> {
    let action = ctx.success_audit()?;
    (outcome.status() == Status::Success && !ctx.principal.token_id.is_empty())
        .then(|| event(ctx, action.to_owned()))
}

fn event(ctx: &Ctx, action: String) -> audit_event::ActiveModel {
    let principal = &ctx.principal;
    audit_event::ActiveModel {
        id: Set(new_id("aud")),
        org_id: Set(principal.org_id.clone()),
        request_id: Set(ctx.request_id.to_string()),
        user_id: Set(principal.user_id.clone()),
        token_id: Set(principal.token_id.clone()),
        action: Set(action),
        target: Set(ctx.audited_target()),
        project_id: Set(ctx.project_scope().map(str::to_owned)),
        created_at: Set(Timestamp::now_ms()),
    }
}

//! The last steps of every update handler, in one place: stamp
//! `updated_at`, write the row (a unique-key clash as a `Conflict` naming
//! the field), name the record for its audit event, and hand the
//! transaction to the gateway.

use actiongate_service::{ActionResult, WriteTxn};
use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel};

use crate::fields::{duplicate_is_conflict, now};

/// What a unique-key clash means for an update: its summary, and the
/// field it points at.
pub type OnDuplicate<'a> = (&'a str, &'a str);

/// Stores `active`, changed by an update, and commits the call's write.
/// `updated_at` is the entity's column of that name; `audit_name` names the
/// stored record in the audit trail.
pub async fn save_update<A>(
    txn: WriteTxn,
    mut active: A,
    updated_at: <A::Entity as EntityTrait>::Column,
    on_duplicate: OnDuplicate<'_>,
    audit_name: impl FnOnce(&<A::Entity as EntityTrait>::Model) -> String,
) -> ActionResult<<A::Entity as EntityTrait>::Model>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    active.set(updated_at, now().into());
    let (what, pointer) = on_duplicate;
    let updated = active
        .update(&txn)
        .await
        .map_err(duplicate_is_conflict(what, pointer))?;
    txn.commit_for(audit_name(&updated)).await?;
    Ok(updated)
}

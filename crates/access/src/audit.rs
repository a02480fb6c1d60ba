//! `audit/list`: the organization's audit trail, newest first, for its
//! admins. The gateway writes the events (one per call that changed
//! something); this only reads them. A token limited to one project reads
//! only that project's events.

use crate::api::audit::{AuditEvent, ListAudit};
use actiongate_entity::audit_event;
use actiongate_kit::page::{self, Page};
use actiongate_service::{ActionResult, Ctx, Timestamp};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

impl From<audit_event::Model> for AuditEvent {
    fn from(e: audit_event::Model) -> Self {
        AuditEvent {
            id: e.id,
            request_id: e.request_id,
            user_id: e.user_id,
            token_id: e.token_id,
            action: e.action,
            target: e.target,
            project_id: e.project_id,
            created_at: Timestamp::from_unix_ms(e.created_at),
        }
    }
}

pub async fn list(ctx: Ctx, input: ListAudit) -> ActionResult<Page<AuditEvent>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let mut query =
        audit_event::Entity::find().filter(audit_event::Column::OrgId.eq(&ctx.principal.org_id));
    if let Some(only) = &ctx.principal.project_id {
        query = query.filter(audit_event::Column::ProjectId.eq(only));
    }
    let filter = input.filter;
    for (column, value) in [
        (audit_event::Column::UserId, filter.user_id),
        (audit_event::Column::Action, filter.action),
        (audit_event::Column::Target, filter.target),
        (audit_event::Column::RequestId, filter.request_id),
        (audit_event::Column::ProjectId, filter.project_id),
    ] {
        if let Some(value) = value {
            query = query.filter(column.eq(value));
        }
    }
    if let Some(since) = input.since {
        query = query.filter(audit_event::Column::CreatedAt.gte(since.unix_ms()));
    }
    let query = query
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id);
    page::fetch(&ctx, query, offset, limit).await
}

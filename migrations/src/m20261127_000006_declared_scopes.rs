//! Scopes declared by actions, recorded where records of a call are kept.
//!
//! - `jobs.scope_project_id`: the project the call's declared scope
//!   resolved to. A poll, cancel or replay of the request is answered only
//!   to a token that could have made the call in that project.
//! - `audit_events.project_id`: the project a change was made in, so that a
//!   token limited to one project reads only that project's trail. Events
//!   written before this migration get it from their target where the
//!   target is a project or a record in one (environment, variable, invite).

use sea_orm_migration::prelude::*;

use crate::columns::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    ScopeProjectId,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    ProjectId,
    CreatedAt,
}

/// Where an old event's target lives, and how to find its project.
const BACKFILL: [&str; 4] = [
    "UPDATE audit_events SET project_id = target \
     WHERE project_id IS NULL AND target IN (SELECT id FROM projects)",
    "UPDATE audit_events SET project_id = \
     (SELECT e.project_id FROM environments e WHERE e.id = audit_events.target) \
     WHERE project_id IS NULL AND target IN (SELECT id FROM environments)",
    "UPDATE audit_events SET project_id = \
     (SELECT e.project_id FROM environment_variables v JOIN environments e ON e.id = v.environment_id \
      WHERE v.id = audit_events.target) \
     WHERE project_id IS NULL AND target IN (SELECT id FROM environment_variables)",
    "UPDATE audit_events SET project_id = \
     (SELECT i.project_id FROM invites i WHERE i.id = audit_events.target) \
     WHERE project_id IS NULL AND target IN (SELECT id FROM invites)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Jobs::ScopeProjectId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(text_null(AuditEvents::ProjectId))
                    .to_owned(),
            )
            .await?;
        for statement in BACKFILL {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("audit_events_project")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::ProjectId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("audit_events_project")
                    .table(AuditEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::ProjectId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::ScopeProjectId)
                    .to_owned(),
            )
            .await
    }
}

//! The activity outbox, and jobs that are due later.
//!
//! - `activity_events`: one row for each state an activity enters
//!   (`pending`, `in_progress`, `complete`, `cancelled`), written in the
//!   same transaction as the job's change, and taken from here by the
//!   services that act on it (webhook deliveries). An ordered, durable
//!   hand-off: nothing is lost between the change and its consumers.
//! - `jobs.due_at`: a queued job is not claimed before this time (Unix
//!   ms), so a job can be scheduled (a webhook's next attempt).

use sea_orm_migration::prelude::*;

use crate::columns::{at, at_null, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ActivityEvents {
    Table,
    Id,
    RequestId,
    State,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    DueAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ActivityEvents::Table)
                    .col(
                        ColumnDef::new(ActivityEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(text(ActivityEvents::RequestId))
                    .col(text(ActivityEvents::State))
                    .col(at(ActivityEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(at_null(Jobs::DueAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ActivityEvents::Table).to_owned())
            .await
    }
}

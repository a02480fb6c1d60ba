//! Activities and serialized jobs.
//!
//! - `queue_key`: jobs sharing a key never run at the same time, and run in
//!   the order they were accepted (an environment's operations, one after
//!   the other).
//! - `activity_type`, `activity_project_id`: the job is an activity of that
//!   project, listed with its others.
//! - `progress`, `log`, `description`: what a run reported, stored where
//!   every node reads it (`log` is a JSON array of `{at, message}`).
//!
//! The indexes are partial: most jobs are neither serialized nor
//! activities, and pay for neither.

use sea_orm_migration::prelude::*;

use crate::columns::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    QueueKey,
    ActivityType,
    ActivityProjectId,
    Progress,
    Log,
    Description,
}

/// The claim's look at a key's queue; a project's activities, newest
/// first; one environment's (its key), newest first and counted from the
/// index alone.
const INDEXES: [(&str, &str); 3] = [
    (
        "jobs_queue_key",
        "CREATE INDEX jobs_queue_key ON jobs (queue_key, request_id) \
         WHERE queue_key IS NOT NULL",
    ),
    (
        "jobs_activity_project",
        "CREATE INDEX jobs_activity_project ON jobs (activity_project_id, request_id) \
         WHERE activity_project_id IS NOT NULL",
    ),
    (
        "jobs_activity_queue",
        "CREATE INDEX jobs_activity_queue ON jobs (activity_project_id, queue_key, request_id) \
         WHERE activity_project_id IS NOT NULL",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters one at a time.
        let columns = [
            text_null(Jobs::QueueKey),
            text_null(Jobs::ActivityType),
            text_null(Jobs::ActivityProjectId),
            ColumnDef::new(Jobs::Progress).integer().null().to_owned(),
            ColumnDef::new(Jobs::Log).text().null().to_owned(),
            ColumnDef::new(Jobs::Description).text().null().to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for (_, create) in INDEXES {
            manager.get_connection().execute_unprepared(create).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Jobs::Table).to_owned())
                .await?;
        }
        for column in [
            Jobs::QueueKey,
            Jobs::ActivityType,
            Jobs::ActivityProjectId,
            Jobs::Progress,
            Jobs::Log,
            Jobs::Description,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

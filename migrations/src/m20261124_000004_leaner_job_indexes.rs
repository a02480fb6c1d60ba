//! Fewer index writes per job: every job is inserted and finished once,
//! and each index on the table is one more b-tree write each time.
//!
//! - `jobs_state` goes: `jobs_state_lease` (state, lease_until) serves every
//!   lookup by state, as its first column.
//! - `jobs_idempotency_key` keeps only rows that have a key (most have
//!   none); a partial unique index, on SQLite and PostgreSQL alike.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    State,
    TokenId,
    IdempotencyKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["jobs_state", "jobs_idempotency_key"] {
            manager
                .drop_index(Index::drop().name(name).table(Jobs::Table).to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (token_id, idempotency_key) \
                 WHERE idempotency_key IS NOT NULL",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("jobs_idempotency_key")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_idempotency_key")
                    .table(Jobs::Table)
                    .col(Jobs::TokenId)
                    .col(Jobs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_state")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .to_owned(),
            )
            .await
    }
}

//! The durable async engine: leases, cancellation, idempotency keys.
//!
//! SQLite adds one column per `ALTER TABLE`, hence one statement each.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    State,
    LeaseUntil,
    CancelRequested,
    IdempotencyKey,
    InputHash,
    TokenId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            // When the running node's claim lapses unless renewed (Unix ms).
            ColumnDef::new(Jobs::LeaseUntil)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Jobs::CancelRequested)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Jobs::IdempotencyKey)
                .text()
                .null()
                .to_owned(),
            // SHA-256 of the body, hex: a replay must be of the same call.
            ColumnDef::new(Jobs::InputHash).text().null().to_owned(),
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
        // Claims look for queued jobs and lapsed leases.
        manager
            .create_index(
                Index::create()
                    .name("jobs_state_lease")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::LeaseUntil)
                    .to_owned(),
            )
            .await?;
        // One request per key and token. Rows without a key (NULL) never
        // collide, on SQLite and PostgreSQL alike.
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["jobs_idempotency_key", "jobs_state_lease"] {
            manager
                .drop_index(Index::drop().name(name).table(Jobs::Table).to_owned())
                .await?;
        }
        for column in [
            Jobs::InputHash,
            Jobs::IdempotencyKey,
            Jobs::CancelRequested,
            Jobs::LeaseUntil,
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

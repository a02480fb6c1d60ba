//! Tokens managed through actions: who made each one, a description, and
//! rotation with a grace period, during which the secret a rotation
//! replaced still works (`previous_secret_hash` until
//! `previous_secret_until`). Indexes serve the lookup of a previous secret
//! and the two lists: a user's own tokens and an organization's.

use sea_orm_migration::prelude::*;

use crate::columns::{at_null, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    OrgId,
    UserId,
    CreatedAt,
    Description,
    CreatedBy,
    PreviousSecretHash,
    PreviousSecretUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            text_null(Tokens::Description),
            text_null(Tokens::CreatedBy),
            text_null(Tokens::PreviousSecretHash),
            at_null(Tokens::PreviousSecretUntil),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table(Tokens::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("tokens_previous_secret_hash")
                    .table(Tokens::Table)
                    .col(Tokens::PreviousSecretHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tokens_org_created")
                    .table(Tokens::Table)
                    .col(Tokens::OrgId)
                    .col(Tokens::CreatedAt)
                    .col(Tokens::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("tokens_user_created")
                    .table(Tokens::Table)
                    .col(Tokens::UserId)
                    .col(Tokens::CreatedAt)
                    .col(Tokens::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in [
            "tokens_previous_secret_hash",
            "tokens_org_created",
            "tokens_user_created",
        ] {
            manager
                .drop_index(Index::drop().name(index).table(Tokens::Table).to_owned())
                .await?;
        }
        for column in [
            Tokens::Description,
            Tokens::CreatedBy,
            Tokens::PreviousSecretHash,
            Tokens::PreviousSecretUntil,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tokens::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

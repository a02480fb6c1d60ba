//! Token scope and revocation: a token may be capped to a role and limited
//! to one project, and records when it was last used; jobs keep the scope
//! they were accepted under; `auth_epochs` counts changes that invalidate
//! verified tokens (revocations, role changes), so every node can tell on
//! each request whether its token cache is still good.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Role,
    ProjectId,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Role,
    ProjectId,
}

#[derive(DeriveIden)]
enum AuthEpochs {
    Table,
    Id,
    Epoch,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let token_columns = [
            ColumnDef::new(Tokens::Role).text().null().to_owned(),
            ColumnDef::new(Tokens::ProjectId).text().null().to_owned(),
            ColumnDef::new(Tokens::LastUsedAt)
                .big_integer()
                .null()
                .to_owned(),
        ];
        for mut column in token_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tokens::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        let job_columns = [
            ColumnDef::new(Jobs::Role).text().null().to_owned(),
            ColumnDef::new(Jobs::ProjectId).text().null().to_owned(),
        ];
        for mut column in job_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuthEpochs::Table)
                    .col(
                        ColumnDef::new(AuthEpochs::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AuthEpochs::Epoch)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuthEpochs::Table)
                    .columns([AuthEpochs::Id, AuthEpochs::Epoch])
                    .values_panic([1.into(), 0.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthEpochs::Table).to_owned())
            .await?;
        for column in [Jobs::ProjectId, Jobs::Role] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Jobs::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Tokens::LastUsedAt, Tokens::ProjectId, Tokens::Role] {
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

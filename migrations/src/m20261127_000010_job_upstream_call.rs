//! `jobs.upstream_call`: for a call forwarded to an upstream service, what
//! the gateway needs to make it again on any node (the request's content
//! type and forwarded headers, and the upstream's poll location once it
//! answered 202), as JSON. The body is `input`, as received.

use sea_orm_migration::prelude::*;

use crate::columns::text_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Jobs {
    Table,
    UpstreamCall,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Jobs::UpstreamCall))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::UpstreamCall)
                    .to_owned(),
            )
            .await
    }
}

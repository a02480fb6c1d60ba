//! Custom roles (seed 003): an organization's named sets of permission
//! rules, held through team grants or carried by tokens. A core table, as
//! teams are: the evaluator reads it to compute what a caller may do.
//!
//! - `roles`: one per name in an organization; `rules` is the JSON array
//!   of its rules as `role/create` took them. Grants and tokens name a
//!   role by `name` (never one of the built-in names), in the `role`
//!   column that holds built-in names too.
//!
//! With them, the index `role/list` reads in order, and those that find
//! the grants and tokens naming a role (a role in use is not deleted).

use sea_orm_migration::prelude::*;

use crate::columns::{at, id, index, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    OrgId,
    Name,
    DisplayName,
    Description,
    Rules,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TeamGrants {
    Table,
    Role,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    OrgId,
    Role,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(id(Roles::Id))
                    .col(text(Roles::OrgId))
                    .col(text(Roles::Name))
                    .col(text_null(Roles::DisplayName))
                    .col(text_null(Roles::Description))
                    .col(text(Roles::Rules))
                    .col(at(Roles::CreatedAt))
                    .col(at(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("roles_org_name")
                    .table(Roles::Table)
                    .col(Roles::OrgId)
                    .col(Roles::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for index in [
            index("team_grants_role", TeamGrants::Table, [TeamGrants::Role]),
            index(
                "tokens_org_role",
                Tokens::Table,
                [Tokens::OrgId, Tokens::Role],
            ),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("tokens_org_role", Tokens::Table.into_iden()),
            ("team_grants_role", TeamGrants::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Roles::Table).to_owned())
            .await
    }
}

//! Organizations, users, memberships, projects, tokens and the job table.

use sea_orm_migration::prelude::*;

use crate::columns::{at, at_null, id, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    OwnerId,
    Csp,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgMembers {
    Table,
    OrgId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OrgId,
    OwnerId,
    Name,
    Geo,
    Region,
    DisplayName,
    Description,
    Color,
    IconPath,
    SingleServerMode,
    DefaultServerId,
    AutoErrorTrackingEnabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Id,
    SecretHash,
    Hint,
    Name,
    UserId,
    OrgId,
    Services,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    RequestId,
    OrgId,
    UserId,
    TokenId,
    Service,
    Version,
    Action,
    Input,
    State,
    NodeId,
    Attempts,
    PollCount,
    Response,
    HttpCode,
    RequestTime,
    StartedAt,
    FinishedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(id(Organizations::Id))
                    .col(text(Organizations::Name))
                    .col(text(Organizations::OwnerId))
                    .col(text(Organizations::Csp))
                    .col(at(Organizations::CreatedAt))
                    .col(at(Organizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(text(Users::Email).unique_key().to_owned())
                    .col(text(Users::Name))
                    .col(at(Users::CreatedAt))
                    .col(at(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrgMembers::Table)
                    .col(text(OrgMembers::OrgId))
                    .col(text(OrgMembers::UserId))
                    .col(text(OrgMembers::Role))
                    .col(at(OrgMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(OrgMembers::OrgId)
                            .col(OrgMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Projects::Table)
                    .col(id(Projects::Id))
                    .col(text(Projects::OrgId))
                    .col(text(Projects::OwnerId))
                    .col(text(Projects::Name))
                    .col(text(Projects::Geo))
                    .col(text(Projects::Region))
                    .col(text_null(Projects::DisplayName))
                    .col(text_null(Projects::Description))
                    .col(text_null(Projects::Color))
                    .col(text_null(Projects::IconPath))
                    .col(
                        ColumnDef::new(Projects::SingleServerMode)
                            .boolean()
                            .not_null(),
                    )
                    .col(text_null(Projects::DefaultServerId))
                    .col(
                        ColumnDef::new(Projects::AutoErrorTrackingEnabled)
                            .boolean()
                            .not_null(),
                    )
                    .col(at(Projects::CreatedAt))
                    .col(at(Projects::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Project names are unique within their organization.
        manager
            .create_index(
                Index::create()
                    .name("projects_org_name")
                    .table(Projects::Table)
                    .col(Projects::OrgId)
                    .col(Projects::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(id(Tokens::Id))
                    .col(text(Tokens::SecretHash).unique_key().to_owned())
                    .col(text(Tokens::Hint))
                    .col(text(Tokens::Name))
                    .col(text(Tokens::UserId))
                    .col(text(Tokens::OrgId))
                    .col(text(Tokens::Services))
                    .col(at(Tokens::CreatedAt))
                    .col(at_null(Tokens::ExpiresAt))
                    .col(at_null(Tokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .col(id(Jobs::RequestId))
                    .col(text(Jobs::OrgId))
                    .col(text(Jobs::UserId))
                    .col(text(Jobs::TokenId))
                    .col(text(Jobs::Service))
                    .col(text(Jobs::Version))
                    .col(text(Jobs::Action))
                    .col(ColumnDef::new(Jobs::Input).binary().not_null())
                    .col(text(Jobs::State))
                    .col(text_null(Jobs::NodeId))
                    .col(ColumnDef::new(Jobs::Attempts).integer().not_null())
                    .col(ColumnDef::new(Jobs::PollCount).integer().not_null())
                    .col(ColumnDef::new(Jobs::Response).text().null())
                    .col(ColumnDef::new(Jobs::HttpCode).integer().null())
                    .col(at(Jobs::RequestTime))
                    .col(at_null(Jobs::StartedAt))
                    .col(at_null(Jobs::FinishedAt))
                    .col(at_null(Jobs::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        // Recovery scans unfinished jobs; garbage collection scans expiry.
        manager
            .create_index(
                Index::create()
                    .name("jobs_state")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_expires_at")
                    .table(Jobs::Table)
                    .col(Jobs::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Jobs::Table.into_iden(),
            Tokens::Table.into_iden(),
            Projects::Table.into_iden(),
            OrgMembers::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

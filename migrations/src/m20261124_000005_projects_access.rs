//! Projects' people and environments (seed 004), and the audit trail.
//!
//! - `project_members`: who belongs to a project, with what role; every
//!   existing project gets its owner as its one `owner` member.
//! - `invites`: invitations to a project by email, the token stored hashed.
//! - `environments` and `environment_variables`: a project's environments
//!   and what they hold. At most one default per project (a partial unique
//!   index, on SQLite and PostgreSQL alike).
//! - `project_icons`: each project's icon, checked image bytes.
//! - `audit_events`: who changed what, written by the gateway with each
//!   change it commits.
//! - `jobs.role_cap`: a resumed job keeps its token's role cap, which
//!   project roles are capped by.

use sea_orm_migration::prelude::*;

use crate::columns::{at, id, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProjectMembers {
    Table,
    ProjectId,
    UserId,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Invites {
    Table,
    Id,
    ProjectId,
    OrgId,
    Email,
    Role,
    TokenHash,
    State,
    InvitedBy,
    AcceptedBy,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Environments {
    Table,
    Id,
    ProjectId,
    Name,
    DisplayName,
    Type,
    Description,
    Color,
    GitBranch,
    IsDefault,
    Status,
    ParentId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EnvironmentVariables {
    Table,
    Id,
    EnvironmentId,
    Name,
    Value,
    IsJson,
    Inheritable,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProjectIcons {
    Table,
    ProjectId,
    ContentType,
    Data,
    Sha256,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrgId,
    RequestId,
    UserId,
    TokenId,
    Action,
    Target,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    RoleCap,
}

fn flag(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProjectMembers::Table)
                    .col(text(ProjectMembers::ProjectId))
                    .col(text(ProjectMembers::UserId))
                    .col(text(ProjectMembers::Role))
                    .col(at(ProjectMembers::CreatedAt))
                    .col(at(ProjectMembers::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(ProjectMembers::ProjectId)
                            .col(ProjectMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("project_members_user")
                    .table(ProjectMembers::Table)
                    .col(ProjectMembers::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO project_members (project_id, user_id, role, created_at, updated_at) \
                 SELECT id, owner_id, 'owner', created_at, updated_at FROM projects",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Invites::Table)
                    .col(id(Invites::Id))
                    .col(text(Invites::ProjectId))
                    .col(text(Invites::OrgId))
                    .col(text(Invites::Email))
                    .col(text(Invites::Role))
                    .col(text(Invites::TokenHash).unique_key().to_owned())
                    .col(text(Invites::State))
                    .col(text(Invites::InvitedBy))
                    .col(text_null(Invites::AcceptedBy))
                    .col(at(Invites::CreatedAt))
                    .col(at(Invites::UpdatedAt))
                    .col(at(Invites::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("invites_project", Invites::ProjectId),
            ("invites_email", Invites::Email),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Invites::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Environments::Table)
                    .col(id(Environments::Id))
                    .col(text(Environments::ProjectId))
                    .col(text(Environments::Name))
                    .col(text_null(Environments::DisplayName))
                    .col(text(Environments::Type))
                    .col(text_null(Environments::Description))
                    .col(text_null(Environments::Color))
                    .col(text_null(Environments::GitBranch))
                    .col(flag(Environments::IsDefault))
                    .col(text(Environments::Status))
                    .col(text_null(Environments::ParentId))
                    .col(at(Environments::CreatedAt))
                    .col(at(Environments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("environments_project_name")
                    .table(Environments::Table)
                    .col(Environments::ProjectId)
                    .col(Environments::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX environments_one_default ON environments (project_id) \
                 WHERE is_default",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EnvironmentVariables::Table)
                    .col(id(EnvironmentVariables::Id))
                    .col(text(EnvironmentVariables::EnvironmentId))
                    .col(text(EnvironmentVariables::Name))
                    .col(
                        ColumnDef::new(EnvironmentVariables::Value)
                            .text()
                            .not_null(),
                    )
                    .col(flag(EnvironmentVariables::IsJson))
                    .col(flag(EnvironmentVariables::Inheritable))
                    .col(at(EnvironmentVariables::CreatedAt))
                    .col(at(EnvironmentVariables::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("environment_variables_name")
                    .table(EnvironmentVariables::Table)
                    .col(EnvironmentVariables::EnvironmentId)
                    .col(EnvironmentVariables::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProjectIcons::Table)
                    .col(id(ProjectIcons::ProjectId))
                    .col(text(ProjectIcons::ContentType))
                    .col(ColumnDef::new(ProjectIcons::Data).binary().not_null())
                    .col(text(ProjectIcons::Sha256))
                    .col(at(ProjectIcons::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id(AuditEvents::Id))
                    .col(text(AuditEvents::OrgId))
                    .col(text(AuditEvents::RequestId))
                    .col(text(AuditEvents::UserId))
                    .col(text(AuditEvents::TokenId))
                    .col(text(AuditEvents::Action))
                    .col(text_null(AuditEvents::Target))
                    .col(at(AuditEvents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_events_org_time")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrgId)
                    .col(AuditEvents::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(text_null(Jobs::RoleCap))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(Jobs::RoleCap)
                    .to_owned(),
            )
            .await?;
        for table in [
            AuditEvents::Table.into_iden(),
            ProjectIcons::Table.into_iden(),
            EnvironmentVariables::Table.into_iden(),
            Environments::Table.into_iden(),
            Invites::Table.into_iden(),
            ProjectMembers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Teams (seed 003): an organization's named groups of members, each
//! carrying roles by its grants. Core tables, as org and project
//! memberships are: every role is computed from them.
//!
//! - `teams`: one per name in an organization;
//! - `team_members`: who is in each;
//! - `team_grants`: a role a team carries, onto one project or (with no
//!   `project_id`) the whole organization; `place` is the project's id or
//!   `org`, so each team has one grant per place.
//!
//! With them, the indexes their lists read in order, and the one an
//! organization's member list (`member/list` with `org_id`) reads.

use sea_orm_migration::prelude::*;

use crate::columns::{at, id, index, text, text_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
    OrgId,
    Name,
    DisplayName,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrgMembers {
    Table,
    OrgId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TeamMembers {
    Table,
    TeamId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TeamGrants {
    Table,
    TeamId,
    Place,
    ProjectId,
    Role,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Teams::Table)
                    .col(id(Teams::Id))
                    .col(text(Teams::OrgId))
                    .col(text(Teams::Name))
                    .col(text_null(Teams::DisplayName))
                    .col(text_null(Teams::Description))
                    .col(at(Teams::CreatedAt))
                    .col(at(Teams::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("teams_org_name")
                    .table(Teams::Table)
                    .col(Teams::OrgId)
                    .col(Teams::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TeamMembers::Table)
                    .col(text(TeamMembers::TeamId))
                    .col(text(TeamMembers::UserId))
                    .col(at(TeamMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TeamMembers::TeamId)
                            .col(TeamMembers::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        for index in [
            index(
                "team_members_user",
                TeamMembers::Table,
                [TeamMembers::UserId],
            ),
            index(
                "team_members_team_created",
                TeamMembers::Table,
                [
                    TeamMembers::TeamId,
                    TeamMembers::CreatedAt,
                    TeamMembers::UserId,
                ],
            ),
            index(
                "teams_org_created",
                Teams::Table,
                [Teams::OrgId, Teams::CreatedAt, Teams::Id],
            ),
            index(
                "teams_org_updated",
                Teams::Table,
                [Teams::OrgId, Teams::UpdatedAt, Teams::Id],
            ),
            index(
                "org_members_org_created",
                OrgMembers::Table,
                [OrgMembers::OrgId, OrgMembers::CreatedAt, OrgMembers::UserId],
            ),
        ] {
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TeamGrants::Table)
                    .col(text(TeamGrants::TeamId))
                    .col(text(TeamGrants::Place))
                    .col(text_null(TeamGrants::ProjectId))
                    .col(text(TeamGrants::Role))
                    .col(at(TeamGrants::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(TeamGrants::TeamId)
                            .col(TeamGrants::Place),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "team_grants_project",
                TeamGrants::Table,
                [TeamGrants::ProjectId],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("org_members_org_created")
                    .table(OrgMembers::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            TeamGrants::Table.into_iden(),
            TeamMembers::Table.into_iden(),
            Teams::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

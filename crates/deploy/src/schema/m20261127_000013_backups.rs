//! `backups`: consistent snapshots of an environment's settings and
//! variables, kept until `expires_at` (`backup_ttl` after they were
//! taken), even after their environment is deleted.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Backups {
    Table,
    Id,
    ProjectId,
    EnvironmentId,
    EnvironmentName,
    Safe,
    Size,
    Contents,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Backups::Table)
                    .col(
                        ColumnDef::new(Backups::Id)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Backups::ProjectId).string().not_null())
                    .col(ColumnDef::new(Backups::EnvironmentId).string().not_null())
                    .col(ColumnDef::new(Backups::EnvironmentName).string().not_null())
                    .col(ColumnDef::new(Backups::Safe).boolean().not_null())
                    .col(ColumnDef::new(Backups::Size).big_integer().not_null())
                    .col(ColumnDef::new(Backups::Contents).text().not_null())
                    .col(ColumnDef::new(Backups::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Backups::ExpiresAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, columns) in [
            (
                "backups_environment",
                vec![Backups::EnvironmentId, Backups::CreatedAt, Backups::Id],
            ),
            ("backups_project", vec![Backups::ProjectId]),
            ("backups_expires", vec![Backups::ExpiresAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Backups::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Backups::Table).to_owned())
            .await
    }
}

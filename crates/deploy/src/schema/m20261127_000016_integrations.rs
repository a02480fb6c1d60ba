//! Webhook integrations and their deliveries.
//!
//! - `integrations`: a project's webhooks: the URL, the event patterns it
//!   takes, its signing secret sealed (`key_id` names the key).
//! - `deliveries`: one activity event for one integration, its payload
//!   frozen when it was made, delivered at least once through the job
//!   engine.
//! - `delivery_attempts`: each try: the answer's status code, latency, or
//!   what went wrong.

use actiongate_migration::columns::{at, at_null, id, text};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
    ProjectId,
    Type,
    Url,
    Events,
    Secret,
    KeyId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    IntegrationId,
    ProjectId,
    ActivityId,
    Event,
    Payload,
    Status,
    Attempts,
    CreatedAt,
    DeliveredAt,
    NextAttemptAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempts {
    Table,
    Id,
    DeliveryId,
    IntegrationId,
    Attempt,
    StatusCode,
    LatencyMs,
    Error,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Integrations::Table)
                    .col(id(Integrations::Id))
                    .col(text(Integrations::ProjectId))
                    .col(text(Integrations::Type))
                    .col(text(Integrations::Url))
                    .col(text(Integrations::Events))
                    .col(text(Integrations::Secret))
                    .col(text(Integrations::KeyId))
                    .col(at(Integrations::CreatedAt))
                    .col(at(Integrations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(id(Deliveries::Id))
                    .col(text(Deliveries::IntegrationId))
                    .col(text(Deliveries::ProjectId))
                    .col(text(Deliveries::ActivityId))
                    .col(text(Deliveries::Event))
                    .col(text(Deliveries::Payload))
                    .col(text(Deliveries::Status))
                    .col(ColumnDef::new(Deliveries::Attempts).integer().not_null())
                    .col(at(Deliveries::CreatedAt))
                    .col(at_null(Deliveries::DeliveredAt))
                    .col(at_null(Deliveries::NextAttemptAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .col(id(DeliveryAttempts::Id))
                    .col(text(DeliveryAttempts::DeliveryId))
                    .col(text(DeliveryAttempts::IntegrationId))
                    .col(
                        ColumnDef::new(DeliveryAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryAttempts::StatusCode)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(DeliveryAttempts::LatencyMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(DeliveryAttempts::Error).text().null())
                    .col(at(DeliveryAttempts::At))
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, &str, Vec<&str>); 4] = [
            (
                "integrations_project",
                "integrations",
                vec!["project_id", "created_at", "id"],
            ),
            (
                "deliveries_integration",
                "deliveries",
                vec!["integration_id", "created_at", "id"],
            ),
            ("deliveries_project", "deliveries", vec!["project_id"]),
            (
                "delivery_attempts_integration",
                "delivery_attempts",
                vec!["integration_id", "at", "id"],
            ),
        ];
        for (name, table, columns) in indexes {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for column in columns {
                index.col(Alias::new(column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["delivery_attempts", "deliveries", "integrations"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! The event stream's own tables (seed 003's events):
//!
//! - `events`: what was sent with `event/send`, kept until `expires_at`
//!   (`event_ttl` after it was sent);
//! - `event_tags`: each event's tags, one row per pair, to filter by;
//! - `event_tag_values`: every tag pair ever sent, once, for `event/tags`
//!   without a scan of the events.
//!
//! Audit events join the stream when it is read; they stay in the core's
//! `audit_events`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    OrgId,
    Type,
    Severity,
    Title,
    Message,
    Icon,
    Color,
    UserId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum EventTags {
    Table,
    EventId,
    OrgId,
    Key,
    Value,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EventTagValues {
    Table,
    OrgId,
    Key,
    Value,
}

fn text(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).string().not_null().to_owned()
}

fn at(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(text(Events::Id).primary_key())
                    .col(text(Events::OrgId))
                    .col(text(Events::Type))
                    .col(text(Events::Severity))
                    .col(text(Events::Title))
                    .col(ColumnDef::new(Events::Message).text().not_null())
                    .col(ColumnDef::new(Events::Icon).string().null())
                    .col(ColumnDef::new(Events::Color).string().null())
                    .col(text(Events::UserId))
                    .col(at(Events::CreatedAt))
                    .col(at(Events::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventTags::Table)
                    .col(text(EventTags::EventId))
                    .col(text(EventTags::OrgId))
                    .col(text(EventTags::Key))
                    .col(text(EventTags::Value))
                    .col(at(EventTags::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(EventTags::EventId)
                            .col(EventTags::Key)
                            .col(EventTags::Value),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventTagValues::Table)
                    .col(text(EventTagValues::OrgId))
                    .col(text(EventTagValues::Key))
                    .col(text(EventTagValues::Value))
                    .primary_key(
                        Index::create()
                            .col(EventTagValues::OrgId)
                            .col(EventTagValues::Key)
                            .col(EventTagValues::Value),
                    )
                    .to_owned(),
            )
            .await?;
        // A window of an organization's events, newest first; the sweep.
        for (name, table, columns) in [
            (
                "events_org_created",
                Events::Table.into_iden(),
                vec![
                    Events::OrgId.into_iden(),
                    Events::CreatedAt.into_iden(),
                    Events::Id.into_iden(),
                ],
            ),
            (
                "events_expires",
                Events::Table.into_iden(),
                vec![Events::ExpiresAt.into_iden()],
            ),
            (
                "event_tags_pair",
                EventTags::Table.into_iden(),
                vec![
                    EventTags::OrgId.into_iden(),
                    EventTags::Key.into_iden(),
                    EventTags::Value.into_iden(),
                    EventTags::CreatedAt.into_iden(),
                ],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EventTagValues::Table.into_iden(),
            EventTags::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

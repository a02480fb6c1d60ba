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

use actiongate_migration::columns::{at, index, text, text_null};
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
                    .col(text_null(Events::Icon))
                    .col(text_null(Events::Color))
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
        for index in [
            index(
                "events_org_created",
                Events::Table,
                [Events::OrgId, Events::CreatedAt, Events::Id],
            ),
            index("events_expires", Events::Table, [Events::ExpiresAt]),
            index(
                "event_tags_pair",
                EventTags::Table,
                [
                    EventTags::OrgId,
                    EventTags::Key,
                    EventTags::Value,
                    EventTags::CreatedAt,
                ],
            ),
        ] {
            manager.create_index(index).await?;
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

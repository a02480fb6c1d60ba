//! An index for every order the shared tables' lists take, ending in the
//! tie-breaker, so that a page is read in order from the index instead of
//! sorting every matching row (`projects` by each `order_by`, the audit
//! trail, a project's members and invites, one's own invites). They
//! replace the indexes they extend.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(name, columns)`: each index made.
const INDEXES: [(&str, &str); 9] = [
    ("projects_org_created", "projects (org_id, created_at, id)"),
    ("projects_org_updated", "projects (org_id, updated_at, id)"),
    ("projects_org_geo", "projects (org_id, geo, id)"),
    ("projects_org_region", "projects (org_id, region, id)"),
    (
        "audit_events_org_created",
        "audit_events (org_id, created_at, id)",
    ),
    (
        "audit_events_project_created",
        "audit_events (project_id, created_at, id)",
    ),
    (
        "project_members_project_created",
        "project_members (project_id, created_at, user_id)",
    ),
    (
        "invites_project_pending",
        "invites (project_id, state, created_at, id)",
    ),
    (
        "invites_email_pending",
        "invites (email, state, created_at, id)",
    ),
];

/// What the new ones replace: `(name, its columns)`.
const REPLACED: [(&str, &str); 4] = [
    ("audit_events_org_time", "audit_events (org_id, created_at)"),
    (
        "audit_events_project",
        "audit_events (project_id, created_at)",
    ),
    ("invites_project", "invites (project_id)"),
    ("invites_email", "invites (email)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        for (name, _) in REPLACED {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in REPLACED {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}

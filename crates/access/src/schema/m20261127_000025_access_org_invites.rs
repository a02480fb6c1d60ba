//! Invites to an organization as a whole: `invites.project_id` may now be
//! null, and an index serves the list of an organization's invites.
//!
//! PostgreSQL drops the column's `NOT NULL`; SQLite, which cannot alter a
//! column, rebuilds the table with the same rows and indexes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: &str = "id, project_id, org_id, email, role, token_hash, state, invited_by, \
                       accepted_by, created_at, updated_at, expires_at";

/// The table as it was, but for `project_id`, which may be null.
const CREATE_NEXT: &str = "CREATE TABLE invites_next (
    id varchar(64) NOT NULL PRIMARY KEY,
    project_id varchar NULL,
    org_id varchar NOT NULL,
    email varchar NOT NULL,
    role varchar NOT NULL,
    token_hash varchar NOT NULL UNIQUE,
    state varchar NOT NULL,
    invited_by varchar NOT NULL,
    accepted_by varchar NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    expires_at bigint NOT NULL
)";

/// The indexes the table has after this migration.
const INDEXES: [&str; 3] = [
    "CREATE INDEX invites_project_pending ON invites (project_id, state, created_at, id)",
    "CREATE INDEX invites_email_pending ON invites (email, state, created_at, id)",
    "CREATE INDEX invites_org_pending ON invites (org_id, state, created_at, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(CREATE_NEXT).await?;
                db.execute_unprepared(&format!(
                    "INSERT INTO invites_next ({COLUMNS}) SELECT {COLUMNS} FROM invites"
                ))
                .await?;
                db.execute_unprepared("DROP TABLE invites").await?;
                db.execute_unprepared("ALTER TABLE invites_next RENAME TO invites")
                    .await?;
                for index in INDEXES {
                    db.execute_unprepared(index).await?;
                }
            }
            _ => {
                db.execute_unprepared("ALTER TABLE invites ALTER COLUMN project_id DROP NOT NULL")
                    .await?;
                db.execute_unprepared(INDEXES[2]).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX invites_org_pending")
            .await?;
        db.execute_unprepared("DELETE FROM invites WHERE project_id IS NULL")
            .await?;
        if db.get_database_backend() != DbBackend::Sqlite {
            db.execute_unprepared("ALTER TABLE invites ALTER COLUMN project_id SET NOT NULL")
                .await?;
        }
        Ok(())
    }
}

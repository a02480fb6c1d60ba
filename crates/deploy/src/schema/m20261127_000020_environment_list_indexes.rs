//! An index for every order `environment/list` takes, ending in the
//! tie-breaker: a page of a project's environments is read in order from
//! the index, instead of sorting all of them (by name, the unique
//! `(project_id, name)` already serves).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: [(&str, &str); 3] = [
    (
        "environments_project_created",
        "environments (project_id, created_at, id)",
    ),
    (
        "environments_project_updated",
        "environments (project_id, updated_at, id)",
    ),
    (
        "environments_project_type",
        "environments (project_id, type, id)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}"))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, _) in INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}

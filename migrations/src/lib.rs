//! The actiongate schema as ordered sea-orm migrations. The gateway runs
//! them at start; `actiongate migrate` runs them on demand. Each migration
//! is written once and never edited after it has shipped: change the schema
//! with a new one.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_initial;
mod m20261123_000002_job_engine;
mod m20261124_000003_token_scope;
mod m20261124_000004_leaner_job_indexes;
mod m20261124_000005_projects_access;
mod m20261127_000006_declared_scopes;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261123_000002_job_engine::Migration),
            Box::new(m20261124_000003_token_scope::Migration),
            Box::new(m20261124_000004_leaner_job_indexes::Migration),
            Box::new(m20261124_000005_projects_access::Migration),
            Box::new(m20261127_000006_declared_scopes::Migration),
        ]
    }
}

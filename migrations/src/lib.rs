//! The actiongate schema as ordered sea-orm migrations, and the runner that
//! applies them.
//!
//! Two kinds of migration make up the schema:
//! - the core's, in this crate: the shared tables (organizations, users,
//!   tokens, jobs, audit), and the history shipped before services owned
//!   their tables, whose early migrations created tables of several
//!   services at once;
//! - each service's own, registered with `Service::migration` in the
//!   service crate that owns the tables.
//!
//! [`up`] merges both into one list ordered by name (every name starts with
//! its date, `mYYYYMMDD_NNNNNN_`), and applies the ones the database has not
//! seen, in one transaction on PostgreSQL, recording each in sea-orm's `seaql_migrations` ledger as sea-orm's
//! own migrator does. A migration is written once and never edited or
//! renamed after it has shipped: change the schema with a new one.

pub use sea_orm_migration::prelude::*;

pub mod columns;
mod m20261123_000001_initial;
mod m20261123_000002_job_engine;
mod m20261124_000003_token_scope;
mod m20261124_000004_leaner_job_indexes;
mod m20261124_000005_projects_access;
mod m20261127_000006_declared_scopes;
mod m20261127_000008_job_traceparent;
mod m20261127_000009_signing_keys;
mod m20261127_000010_job_upstream_call;
mod m20261127_000011_job_activities;
mod m20261127_000015_activity_events;
mod m20261127_000017_activity_tallies;
mod m20261127_000018_job_upstream_request_id;
mod m20261127_000019_list_indexes;
mod m20261127_000022_token_management;
mod m20261127_000024_teams;
mod m20261127_000026_custom_roles;
mod m20261127_000027_job_claim_indexes;
mod runner;

pub use runner::{applied, up, Report};

/// The core's migrations, oldest first.
pub fn core() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(m20261123_000001_initial::Migration),
        Box::new(m20261123_000002_job_engine::Migration),
        Box::new(m20261124_000003_token_scope::Migration),
        Box::new(m20261124_000004_leaner_job_indexes::Migration),
        Box::new(m20261124_000005_projects_access::Migration),
        Box::new(m20261127_000006_declared_scopes::Migration),
        Box::new(m20261127_000008_job_traceparent::Migration),
        Box::new(m20261127_000009_signing_keys::Migration),
        Box::new(m20261127_000010_job_upstream_call::Migration),
        Box::new(m20261127_000011_job_activities::Migration),
        Box::new(m20261127_000015_activity_events::Migration),
        Box::new(m20261127_000017_activity_tallies::Migration),
        Box::new(m20261127_000018_job_upstream_request_id::Migration),
        Box::new(m20261127_000019_list_indexes::Migration),
        Box::new(m20261127_000022_token_management::Migration),
        Box::new(m20261127_000024_teams::Migration),
        Box::new(m20261127_000026_custom_roles::Migration),
        Box::new(m20261127_000027_job_claim_indexes::Migration),
    ]
}

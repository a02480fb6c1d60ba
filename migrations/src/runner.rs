//! Applying the merged list of migrations.
//!
//! sea-orm's `MigratorTrait` takes its list from a static function, so it
//! cannot hold migrations contributed by the services a gateway is started
//! with. This runner keeps sea-orm's ledger (`seaql_migrations`, the same
//! rows its migrator writes, so databases made by earlier releases carry
//! on) and its checks, over a list built at start.

use std::collections::{BTreeMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ActiveValue, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait};
use sea_orm::{Statement, TransactionTrait};
use sea_orm_migration::seaql_migrations;
use sea_orm_migration::{MigrationTrait, MigratorTrait, SchemaManager};

use crate::{core, DbErr};

/// The ledger's table and reads, from sea-orm's migrator with no list.
struct Ledger;

impl MigratorTrait for Ledger {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        Vec::new()
    }
}

/// Nodes starting together on one PostgreSQL database take turns: the one
/// that holds this lock migrates, the others then find nothing to do.
const PG_MIGRATION_LOCK: i64 = 0x6163_7469_6f6e_6761; // "actionga"

/// Applies every migration of the core and of `contributed` that the
/// database has not applied, in the order of their names.
///
/// Refuses, changing nothing, when two migrations share a name. A migration
/// the ledger names but this build lacks is reported, not refused (as
/// Flyway treats "future" migrations): one database is opened by every
/// build of an installation, the stock CLI beside a build with services of
/// its own, and a build never touches tables it has no service for.
pub async fn up(
    db: &DatabaseConnection,
    contributed: Vec<Box<dyn MigrationTrait>>,
) -> Result<Report, DbErr> {
    let ordered = ordered(core().into_iter().chain(contributed))?;
    if db.get_database_backend() == DbBackend::Postgres {
        // One transaction: PostgreSQL's DDL is transactional, so a failed
        // migration leaves the schema as it was.
        let txn = db.begin().await?;
        txn.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [PG_MIGRATION_LOCK.into()],
        ))
        .await?;
        let report = apply(&txn, ordered).await?;
        txn.commit().await?;
        Ok(report)
    } else {
        apply(db, ordered).await
    }
}

/// What [`up`] did.
#[derive(Debug, Default)]
pub struct Report {
    /// The migrations applied now, in order.
    pub applied: Vec<String>,
    /// Migrations the database has applied that this build does not have.
    pub unknown: Vec<String>,
    /// Every migration this build has, in order: what a database must have
    /// applied to be current.
    pub known: Vec<String>,
}

/// The names of the migrations the database has applied (a read only: the
/// ledger is not created here).
pub async fn applied(db: &impl ConnectionTrait) -> Result<HashSet<String>, DbErr> {
    Ok(seaql_migrations::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.version)
        .collect())
}

/// The migrations by name, refusing a name given twice.
fn ordered(
    migrations: impl Iterator<Item = Box<dyn MigrationTrait>>,
) -> Result<BTreeMap<String, Box<dyn MigrationTrait>>, DbErr> {
    let mut ordered = BTreeMap::new();
    for migration in migrations {
        let name = migration.name().to_owned();
        if ordered.insert(name.clone(), migration).is_some() {
            return Err(DbErr::Custom(format!(
                "two migrations are named '{name}'; a migration's name must be unique"
            )));
        }
    }
    Ok(ordered)
}

async fn apply<'c, C>(
    conn: &'c C,
    ordered: BTreeMap<String, Box<dyn MigrationTrait>>,
) -> Result<Report, DbErr>
where
    C: ConnectionTrait,
    &'c C: sea_orm_migration::IntoSchemaManagerConnection<'c>,
{
    Ledger::install(conn).await?;
    let done = applied(conn).await?;
    let mut report = Report {
        known: ordered.keys().cloned().collect(),
        applied: Vec::new(),
        unknown: done
            .iter()
            .filter(|name| !ordered.contains_key(name.as_str()))
            .cloned()
            .collect(),
    };
    report.unknown.sort();
    let manager = SchemaManager::new(conn);
    for (name, migration) in ordered {
        if done.contains(&name) {
            continue;
        }
        migration.up(&manager).await?;
        seaql_migrations::Entity::insert(seaql_migrations::ActiveModel {
            version: ActiveValue::Set(name.clone()),
            applied_at: ActiveValue::Set(unix_seconds()),
        })
        .exec(conn)
        .await?;
        report.applied.push(name);
    }
    Ok(report)
}

fn unix_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm_migration::MigrationName;

    /// A service's migration dated before the core's last one.
    struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261124_000004_b_service_table"
        }
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, _: &SchemaManager) -> Result<(), DbErr> {
            Ok(())
        }
    }

    #[test]
    fn a_name_given_twice_is_refused() {
        let err = ordered(core().into_iter().chain(core())).err().unwrap();
        assert!(
            err.to_string().contains("m20261123_000001_initial"),
            "{err}"
        );
    }

    #[test]
    fn the_merged_list_is_in_name_order() {
        let names: Vec<String> =
            ordered(std::iter::once(Box::new(Migration) as Box<dyn MigrationTrait>).chain(core()))
                .unwrap()
                .into_keys()
                .collect();
        assert_eq!(names.len(), core().len() + 1);
        assert_eq!(names[0], "m20261123_000001_initial");
        assert_eq!(names[3], "m20261124_000004_b_service_table");
        assert_eq!(names[4], "m20261124_000004_leaner_job_indexes");
    }
}

//! Connecting to the database and bringing its schema up to date.

use std::time::Duration;

use actiongate_migration::{Migrator, MigratorTrait};
use actiongate_service::Db;
use anyhow::Context;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};

use crate::Config;

/// Opens the configured database (creating the SQLite file and its folder
/// if needed): a pool for reads and, on SQLite, one connection for write
/// transactions (see [`Db`]).
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    let url = config.database_url();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    let read = open(&url, config.database_connections).await?;
    if !sqlite {
        return Ok(Db {
            write: read.clone(),
            read,
        });
    }
    let write = open(&url, 1).await?;
    Ok(Db { read, write })
}

async fn open(url: &str, connections: u32) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|sqlite| {
            // WAL: readers never wait for the writer. NORMAL: a commit is
            // durable once in the WAL, which survives the process being
            // killed; only an OS crash or power loss can drop the newest
            // commits. FULL would add an fsync to every commit.
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
        });
    Database::connect(options)
        .await
        .context("connecting to the database")
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running migrations")
}

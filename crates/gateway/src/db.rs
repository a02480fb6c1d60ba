//! Connecting to the database and bringing its schema up to date.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actiongate_service::{Db, Service};
use anyhow::Context;
use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sea_orm::sqlx::{self, ConnectOptions as _, Connection as _, TransactionManager as _};
use sea_orm::{
    Database, DatabaseConnection, DbBackend, SqlxPostgresConnector, SqlxSqliteConnector,
};

use crate::sqlite::{SqliteReader, WriteConnection};

use crate::config::SqliteSync;
use crate::Config;

/// Opens the configured database (creating the SQLite file and its folder
/// if needed). On PostgreSQL, one pool serves reads and writes. On SQLite,
/// writes go through one connection (see [`Db`]) and reads run on the
/// calling thread ([`SqliteReader`]).
pub async fn connect(config: &Config) -> anyhow::Result<Db> {
    Ok(open_database(config).await?.0)
}

/// On SQLite, the connections beside the pool (see [`crate::sqlite`]).
pub struct SqliteDirect {
    /// Behind `Db::read`, for the few reads that go around sea-orm.
    pub reader: SqliteReader,
    /// The job writer's batches and handlers' write transactions (as
    /// `Db::open_write`).
    pub write: Arc<WriteConnection>,
}

/// [`connect`], and on SQLite the connections that go around sqlx.
pub async fn open_database(config: &Config) -> anyhow::Result<(Db, Option<SqliteDirect>)> {
    let url = config.database_url();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    if !sqlite {
        let pool = open(&url, config.database_connections, config.sqlite_synchronous).await?;
        let db = Db {
            write: pool.clone(),
            read: pool,
            open_write: None,
        };
        return Ok((db, None));
    }
    // The writer opens (and creates) the file first; readers open it read-only.
    let write = open(&url, 1, config.sqlite_synchronous).await?;
    let path = sqlite_path(&url);
    let direct_write = Arc::new(
        WriteConnection::open(
            &path,
            config.sqlite_synchronous,
            write.get_sqlite_connection_pool().clone(),
        )
        .await
        .context("opening SQLite's direct write connection")?,
    );
    let reader = SqliteReader::new(path);
    let read = Database::connect_proxy(DbBackend::Sqlite, Arc::new(Box::new(reader.clone())))
        .await
        .context("opening the SQLite reader")?;
    let db = Db {
        read,
        write,
        open_write: Some(direct_write.clone()),
    };
    let direct = SqliteDirect {
        reader,
        write: direct_write,
    };
    Ok((db, Some(direct)))
}

/// Connections of the database pools, idle and in use. On SQLite that is
/// the writer's; the readers are threads' own connections, not pooled.
pub fn pool_connections(db: &Db) -> (u64, u64) {
    let (size, idle) = match &db.write {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = db.write.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = db.write.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    // sqlx's idle count can wrap below zero in a race (see pool_options).
    let idle = (idle as u64).min(u64::from(size));
    (idle, u64::from(size) - idle)
}

/// The file of a `sqlite://path?options` URL.
pub fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// A pooled connection idle at least this long is checked before it is
/// handed out; one in steady use is not, as HikariCP does: the check is a
/// round trip to the server, and on the request path it was one of every
/// few a job's statements made.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

async fn open(
    url: &str,
    connections: u32,
    synchronous: SqliteSync,
) -> anyhow::Result<DatabaseConnection> {
    if url.starts_with("sqlite:") {
        // WAL: readers never wait for the writer. FULL syncs the WAL at
        // each commit; NORMAL only at checkpoints (see SqliteSync).
        let options = url
            .parse::<SqliteConnectOptions>()
            .context("reading the SQLite database URL")?
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("synchronous", synchronous.pragma())
            .busy_timeout(Duration::from_secs(5))
            .disable_statement_logging();
        // The file is on this machine and the connection cannot be
        // dropped from the other end, so it is never checked.
        let pool = pool_options(connections)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .context("connecting to the database")?;
        return Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool));
    }
    let options = url
        .parse::<PgConnectOptions>()
        .context("reading the PostgreSQL database URL")?
        .disable_statement_logging();
    // A server restart or an idle timeout ends connections the pool still
    // holds; only one idle a while can have met either unnoticed (one in
    // use fails its statement and is dropped on return).
    let pool = pool_options(connections)
        .test_before_acquire(false)
        .before_acquire(|connection: &mut sqlx::PgConnection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IF_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .context("connecting to the database")?;
    Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
}

fn pool_options<DB: sqlx::Database>(connections: u32) -> PoolOptions<DB> {
    PoolOptions::new()
        .max_connections(connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // With either set, sqlx 0.8 runs a reaper that loops over its idle
        // count without yielding; a race in its release can wrap that
        // count to usize::MAX, and the reaper then holds a runtime worker
        // at 100% CPU for good (launchbadge/sqlx#3645, fixed only in 0.9).
        // A dead PostgreSQL connection is caught by the check before
        // acquiring instead; SQLite's cannot die.
        .idle_timeout(None)
        .max_lifetime(None)
        // A connection must come back outside any transaction. After a
        // failed COMMIT (SQLite on a full disk) sqlx 0.8 can hand it back
        // still inside one, and every later "commit" on it would only
        // release a savepoint in that transaction: answered as written,
        // never stored. Such a connection is closed instead, which rolls
        // it back, and the pool opens a new one.
        .after_release(|connection, _| {
            Box::pin(async move {
                if DB::TransactionManager::get_transaction_depth(connection) == 0 {
                    return Ok(true);
                }
                // The rollback of a transaction dropped unfinished may still
                // be on its way: let it land first.
                connection.ping().await?;
                let stuck = DB::TransactionManager::get_transaction_depth(connection) != 0;
                if stuck {
                    tracing::warn!("a database connection came back inside a transaction; it is closed and replaced");
                }
                Ok(!stuck)
            })
        })
}

/// Applies every pending migration: the core's and those of `services`,
/// which are taken from them. Returns the names of every migration this
/// build has.
pub async fn migrate(
    db: &DatabaseConnection,
    services: &mut [Service],
) -> anyhow::Result<Vec<String>> {
    let contributed = services
        .iter_mut()
        .flat_map(|service| std::mem::take(&mut service.migrations))
        .collect();
    let report = actiongate_migration::up(db, contributed)
        .await
        .context("running migrations")?;
    for name in report.applied {
        tracing::info!(migration = %name, "applied a migration");
    }
    if !report.unknown.is_empty() {
        tracing::warn!(
            migrations = %report.unknown.join(", "),
            "the database has migrations this build does not have: from a newer \
             release, or from services this build lacks; their tables are left alone"
        );
    }
    Ok(report.known)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    use super::*;

    /// The setting reaches both connections that write, the pool's and the
    /// job writer's: `PRAGMA synchronous` is 2 for FULL (the default), 1
    /// for NORMAL.
    #[tokio::test]
    async fn sqlite_synchronous_is_full_unless_set_to_normal() {
        for (setting, expected) in [(None, 2), (Some(SqliteSync::Normal), 1)] {
            let dir = tempfile::tempdir().unwrap();
            let mut config = Config {
                data_dir: dir.path().to_owned(),
                ..Config::default()
            };
            if let Some(setting) = setting {
                config.sqlite_synchronous = setting;
            }
            let (db, direct) = open_database(&config).await.unwrap();
            let asked = || Statement::from_string(DbBackend::Sqlite, "PRAGMA synchronous");
            let row = db.write.query_one(asked()).await.unwrap().unwrap();
            let level: i32 = row.try_get_by_index(0).unwrap();
            assert_eq!(level, expected, "the pool, {setting:?}");
            let direct_write = direct.unwrap().write;
            let row = direct_write
                .transaction(async |conn| conn.query_one(asked()).await)
                .await
                .unwrap()
                .unwrap();
            let level: i32 = row.try_get_by_index(0).unwrap();
            assert_eq!(level, expected, "the job writer's, {setting:?}");
        }
    }
}

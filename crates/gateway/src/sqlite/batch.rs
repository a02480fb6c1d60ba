//! The job writer's own connection to SQLite.
//!
//! The job writer ([`crate::jobs`]) commits a batch of a few statements
//! hundreds of times a second. Through sqlx, every one of them was a trip
//! to sqlx's connection thread and back, and under load the trips, not the
//! statements, were the batch's time. Here the writer runs its statements
//! itself, on a read-write connection no one else uses.
//!
//! SQLite still has one writer at a time: the job writer holds the pool's
//! write connection for as long as its transaction is open (see
//! [`BatchConnection::lock`]), so a handler's transaction and a batch never
//! overlap, and neither ever meets a busy database.
//!
//! Its transactions are its own: `BEGIN IMMEDIATE`, `COMMIT` and
//! `ROLLBACK` are statements it runs (see [`BatchConnection::transaction`]),
//! because a proxy connection's `commit` in sea-orm has no way to report a
//! failure, and a failed commit (a full disk) must reach the callers.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Sqlite, SqlitePool};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait,
    ProxyExecResult, ProxyRow, RuntimeErr, Statement,
};

use super::statements::{self, exec_error, query_error, Statements};
use crate::config::SqliteSync;

/// A read-write connection for the job writer's batches, and the pool
/// whose one connection it takes turns with.
pub struct BatchConnection {
    /// `direct` as sea-orm takes it.
    statements: DatabaseConnection,
    direct: Arc<Mutex<Statements>>,
    pool: SqlitePool,
}

impl BatchConnection {
    /// Opens the database at `path` (already created by the pool's
    /// connection, in WAL mode) with the pool's settings.
    pub async fn open(
        path: &Path,
        synchronous: SqliteSync,
        pool: SqlitePool,
    ) -> anyhow::Result<Self> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // As sqlx sets up the pool's: the journal mode is the file's, the
        // rest are each connection's own.
        connection.busy_timeout(Duration::from_secs(5))?;
        connection.pragma_update(None, "foreign_keys", true)?;
        connection.pragma_update(None, "synchronous", synchronous.pragma())?;
        let direct = Arc::new(Mutex::new(Statements::new(connection)));
        let proxy = Direct {
            statements: direct.clone(),
        };
        let statements =
            Database::connect_proxy(DbBackend::Sqlite, Arc::new(Box::new(proxy))).await?;
        Ok(BatchConnection {
            statements,
            direct,
            pool,
        })
    }

    /// Waits for SQLite's write turn: the pool's one connection, held
    /// unused until the guard drops.
    async fn lock(&self) -> Result<PoolConnection<Sqlite>, DbErr> {
        self.pool
            .acquire()
            .await
            .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))
    }

    /// Runs `work` in one transaction on this connection, with the write
    /// turn held throughout: committed if it succeeds, rolled back if it
    /// or the commit fails.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        F: AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
    {
        let _turn = self.lock().await?;
        let conn = &self.statements;
        // What an earlier batch left open (its ROLLBACK failed too) is
        // undone before anything else is written.
        self.roll_back_if_open().await?;
        conn.execute_unprepared("BEGIN IMMEDIATE").await?;
        let done = match work(conn).await {
            Ok(done) => conn.execute_unprepared("COMMIT").await.map(|_| done),
            Err(err) => Err(err),
        };
        if done.is_err() {
            // A failed COMMIT may leave the transaction open (busy) or
            // already rolled back (some I/O errors). An open one would keep
            // SQLite's write lock after the turn is handed back.
            if let Err(err) = self.roll_back_if_open().await {
                tracing::warn!(error = %err, "rolling back a failed job-table batch");
            }
        }
        done
    }

    async fn roll_back_if_open(&self) -> Result<(), DbErr> {
        let open = !self
            .direct
            .lock()
            .expect("batch connection lock")
            .connection
            .is_autocommit();
        if open {
            self.statements.execute_unprepared("ROLLBACK").await?;
        }
        Ok(())
    }
}

/// Statements run where they are awaited, one at a time.
struct Direct {
    statements: Arc<Mutex<Statements>>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the job writer's SQLite connection")
    }
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for Direct {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        let params = statements::parameters(&statement)?;
        let mut direct = self.statements.lock().expect("batch connection lock");
        let (mut prepared, shape) = direct.prepare(&statement.sql).map_err(query_error)?;
        statements::rows(&mut prepared, &shape.columns, params).map_err(query_error)
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        let params = statements::parameters(&statement)?;
        let direct = self.statements.lock().expect("batch connection lock");
        let mut prepared = direct
            .connection
            .prepare_cached(&statement.sql)
            .map_err(exec_error)?;
        let changed = prepared
            .execute(rusqlite::params_from_iter(params))
            .map_err(exec_error)?;
        Ok(ProxyExecResult {
            last_insert_id: u64::try_from(direct.connection.last_insert_rowid()).unwrap_or(0),
            rows_affected: changed as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Config;

    async fn opened() -> (tempfile::TempDir, BatchConnection, DatabaseConnection) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let (db, direct) = crate::db::open_database(&config).await.unwrap();
        db.write
            .execute_unprepared("CREATE TABLE t (n INTEGER NOT NULL)")
            .await
            .unwrap();
        (dir, direct.unwrap().batch, db.write)
    }

    fn count(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    /// A batch stands whole or not at all, and one that failed leaves the
    /// connection ready for the next.
    #[tokio::test]
    async fn a_failed_batch_leaves_nothing_and_the_next_commits() {
        let (dir, batch, _pool) = opened().await;
        let path = dir.path().join("actiongate.db");
        let failed = batch
            .transaction(async |conn| {
                conn.execute_unprepared("INSERT INTO t VALUES (1)").await?;
                conn.execute_unprepared("INSERT INTO t VALUES (NULL)").await
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(count(&path), 0);
        batch
            .transaction(async |conn| conn.execute_unprepared("INSERT INTO t VALUES (2)").await)
            .await
            .unwrap();
        assert_eq!(count(&path), 1);
    }

    /// A batch waits while the pool's connection is out, so SQLite never
    /// has two writers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_waits_for_the_pool_connection() {
        let (_dir, batch, pool) = opened().await;
        let held = pool.get_sqlite_connection_pool().acquire().await.unwrap();
        let batch = Arc::new(batch);
        let writing = tokio::spawn({
            let batch = batch.clone();
            async move {
                batch
                    .transaction(async |conn| {
                        conn.execute_unprepared("INSERT INTO t VALUES (3)").await
                    })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !writing.is_finished(),
            "the batch wrote beside the pool's writer"
        );
        drop(held);
        writing.await.unwrap().unwrap();
    }
}

//! SQLite's writes, on a read-write connection called directly.
//!
//! Through sqlx, every statement of a write transaction was a trip to
//! sqlx's connection thread and back, and under load the trips, not the
//! statements, were the transaction's time; and while a transaction makes
//! its trips, it holds SQLite's one write turn, so every other writer waits
//! for them too. Here the statements run where they are awaited, on one
//! read-write connection shared by:
//! - the job writer's batches ([`WriteConnection::transaction`]);
//! - handlers' write transactions ([`WriteConnection`] as the
//!   [`OpenWrite`] of `Db`), which the gateway commits with the call's
//!   result.
//!
//! SQLite still has one writer at a time: a transaction here holds the
//! pool's write connection, unused, for as long as it is open (see
//! [`WriteConnection::turn`]), so it never overlaps another here nor one on
//! the pool (migrations, the sweeper, the gateway's own bookkeeping), and
//! none meets a database made busy by this process (another process's
//! lock is waited for, see [`WriteConnection::begin_immediate`]).
//!
//! Transactions begin with `BEGIN IMMEDIATE` and end with `COMMIT` or
//! `ROLLBACK` statements run here, because a proxy connection's `commit`
//! in sea-orm has no way to report a failure, and a failed commit (a full
//! disk) must reach the caller. A statement whose last run was long, and
//! every `COMMIT` (it waits for the disk), runs with the runtime's worker
//! handed over to another thread (`block_in_place`), as the reader's long
//! reads do.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_service::{OpenWrite, WriteTransaction};
use rusqlite::{Connection, OpenFlags};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Sqlite, SqlitePool};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait,
    ProxyExecResult, ProxyRow, RuntimeErr, Statement, TransactionTrait,
};

use super::statements::{self, exec_error, may_block_in_place, query_error, Statements};
use crate::config::SqliteSync;

/// How long a statement waits for another process's lock, as the pool's
/// connection does.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The read-write connection, and the pool whose one connection it takes
/// turns with.
pub struct WriteConnection {
    /// `direct` as sea-orm takes it, for the job writer's batches.
    statements: DatabaseConnection,
    direct: Arc<Mutex<Statements>>,
    pool: SqlitePool,
}

impl std::fmt::Debug for WriteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SQLite's direct write connection")
    }
}

impl WriteConnection {
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
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "foreign_keys", true)?;
        connection.pragma_update(None, "synchronous", synchronous.pragma())?;
        let direct = Arc::new(Mutex::new(Statements::new(connection)));
        let statements = Direct::connect(direct.clone(), None).await?;
        Ok(WriteConnection {
            statements,
            direct,
            pool,
        })
    }

    /// Waits for SQLite's write turn: the pool's one connection, held
    /// unused until the guard drops.
    async fn turn(&self) -> Result<PoolConnection<Sqlite>, DbErr> {
        self.pool
            .acquire()
            .await
            .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))
    }

    /// Starts a transaction, once the turn is held and whatever an earlier
    /// one left open (its ROLLBACK failed too) is undone.
    ///
    /// Within this process the turn means nobody else writes, so the lock
    /// is taken at once. Another process (an operator's shell, a backup)
    /// may hold it: then the wait, up to the busy timeout, is made with the
    /// runtime's worker handed over.
    fn begin_immediate(&self) -> Result<(), DbErr> {
        let direct = self.direct.lock().expect("write connection lock");
        let connection = &direct.connection;
        roll_back_if_open(connection)?;
        let begin = || connection.execute_batch("BEGIN IMMEDIATE");
        connection
            .busy_timeout(Duration::ZERO)
            .map_err(exec_error)?;
        let mut begun = begin();
        connection.busy_timeout(BUSY_TIMEOUT).map_err(exec_error)?;
        if busy(&begun) {
            begun = if may_block_in_place() {
                tokio::task::block_in_place(begin)
            } else {
                begin()
            };
        }
        begun.map_err(exec_error)
    }

    /// Runs `work` in one transaction on this connection, with the write
    /// turn held throughout: committed if it succeeds, rolled back if it
    /// or the commit fails. The job writer's batches.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        F: AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
    {
        let _turn = self.turn().await?;
        self.begin_immediate()?;
        let conn = &self.statements;
        let done = match work(conn).await {
            Ok(done) => conn.execute_unprepared("COMMIT").await.map(|_| done),
            Err(err) => Err(err),
        };
        if done.is_err() {
            end_transaction(&self.direct);
        }
        done
    }
}

#[async_trait::async_trait]
impl OpenWrite for WriteConnection {
    /// A handler's transaction: it holds the turn until it commits, rolls
    /// back or is dropped.
    async fn begin(&self) -> Result<WriteTransaction, DbErr> {
        let turn = self.turn().await?;
        self.begin_immediate()?;
        let txn = Direct::connect(self.direct.clone(), Some(turn))
            .await?
            .begin()
            .await?;
        Ok(WriteTransaction::committed_by_statement(txn))
    }
}

/// What a failed COMMIT may leave (the transaction still open when busy,
/// already rolled back after some I/O errors) made safe: an open one would
/// keep SQLite's write lock after the turn is handed back.
fn end_transaction(direct: &Mutex<Statements>) {
    let direct = direct.lock().expect("write connection lock");
    if let Err(err) = roll_back_if_open(&direct.connection) {
        tracing::warn!(error = %err, "rolling back a failed SQLite transaction");
    }
}

fn busy(result: &rusqlite::Result<()>) -> bool {
    matches!(
        result,
        Err(rusqlite::Error::SqliteFailure(failure, _))
            if failure.code == rusqlite::ErrorCode::DatabaseBusy
    )
}

fn roll_back_if_open(connection: &Connection) -> Result<(), DbErr> {
    if !connection.is_autocommit() {
        connection.execute_batch("ROLLBACK").map_err(exec_error)?;
    }
    Ok(())
}

/// Statements run where they are awaited, one at a time. A handler's
/// transaction has one of its own, holding the write turn (`turn`) until
/// the transaction ends; the job writer's is shared and holds none.
struct Direct {
    statements: Arc<Mutex<Statements>>,
    turn: Mutex<Option<PoolConnection<Sqlite>>>,
}

impl Direct {
    async fn connect(
        statements: Arc<Mutex<Statements>>,
        turn: Option<PoolConnection<Sqlite>>,
    ) -> Result<DatabaseConnection, DbErr> {
        let proxy = Direct {
            statements,
            turn: Mutex::new(turn),
        };
        Database::connect_proxy(DbBackend::Sqlite, Arc::new(Box::new(proxy))).await
    }

    /// The transaction is over: anything it left open is rolled back (a
    /// commit comes as a `COMMIT` statement first, see
    /// [`WriteTransaction`]), and the turn is handed back.
    fn end(&self) {
        end_transaction(&self.statements);
        self.turn.lock().expect("write turn lock").take();
    }
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SQLite's direct write connection")
    }
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for Direct {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        let params = statements::parameters(&statement)?;
        let mut direct = self.statements.lock().expect("write connection lock");
        let (mut prepared, shape) = direct.prepare(&statement.sql).map_err(query_error)?;
        let read = || statements::rows(&mut prepared, &shape.columns, params);
        let rows = if shape.slow && may_block_in_place() {
            tokio::task::block_in_place(read)
        } else {
            read()
        };
        shape.slow = statements::was_slow(&mut prepared);
        rows.map_err(query_error)
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        let params = statements::parameters(&statement)?;
        let mut direct = self.statements.lock().expect("write connection lock");
        let (mut prepared, shape) = direct.prepare(&statement.sql).map_err(exec_error)?;
        let run = || prepared.execute(rusqlite::params_from_iter(params));
        // A COMMIT waits for the disk (an fsync with synchronous=FULL).
        let long = shape.slow || statement.sql == "COMMIT";
        let changed = if long && may_block_in_place() {
            tokio::task::block_in_place(run)
        } else {
            run()
        };
        shape.slow = statements::was_slow(&mut prepared);
        let changed = changed.map_err(exec_error)?;
        drop(prepared);
        Ok(ProxyExecResult {
            last_insert_id: u64::try_from(direct.connection.last_insert_rowid()).unwrap_or(0),
            rows_affected: changed as u64,
        })
    }

    async fn commit(&self) {
        self.end();
    }

    async fn rollback(&self) {
        self.end();
    }

    fn start_rollback(&self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Config;

    async fn opened() -> (tempfile::TempDir, Arc<WriteConnection>, DatabaseConnection) {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        let (db, direct) = crate::db::open_database(&config).await.unwrap();
        db.write
            .execute_unprepared(
                "CREATE TABLE t (n INTEGER NOT NULL);
                 CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent_id INTEGER
                     REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .await
            .unwrap();
        (dir, direct.unwrap().write, db.write)
    }

    /// A batch inserting `n` into `t`, under way.
    fn spawn_batch_insert(
        direct: &Arc<WriteConnection>,
        n: i64,
    ) -> tokio::task::JoinHandle<Result<sea_orm::ExecResult, DbErr>> {
        let direct = direct.clone();
        tokio::spawn(async move {
            direct
                .transaction(async |conn| {
                    conn.execute_unprepared(&format!("INSERT INTO t VALUES ({n})"))
                        .await
                })
                .await
        })
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
        let writing = spawn_batch_insert(&batch, 3);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !writing.is_finished(),
            "the batch wrote beside the pool's writer"
        );
        drop(held);
        writing.await.unwrap().unwrap();
    }

    /// A handler's transaction holds the write turn from its begin to its
    /// commit: a batch waits for it, and sees its rows once it commits.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handler_transaction_holds_the_turn_until_it_commits() {
        let (dir, direct, _pool) = opened().await;
        let txn = direct.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let writing = spawn_batch_insert(&direct, 2);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!writing.is_finished(), "the batch wrote inside the turn");
        assert_eq!(count(&dir.path().join("actiongate.db")), 0);
        txn.commit().await.unwrap();
        writing.await.unwrap().unwrap();
        assert_eq!(count(&dir.path().join("actiongate.db")), 2);
    }

    /// A COMMIT that fails reaches the caller, keeps nothing, and hands
    /// the turn back; so does a transaction dropped without a commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_or_dropped_handler_transaction_keeps_nothing_and_frees_the_turn() {
        let (dir, direct, _pool) = opened().await;
        let path = dir.path().join("actiongate.db");
        let txn = direct.begin().await.unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        // A deferred foreign key is checked at COMMIT, which fails.
        txn.execute_unprepared("INSERT INTO child VALUES (7)")
            .await
            .unwrap();
        let err = txn.commit().await.unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        assert_eq!(count(&path), 0);

        let dropped = direct.begin().await.unwrap();
        dropped
            .execute_unprepared("INSERT INTO t VALUES (2)")
            .await
            .unwrap();
        drop(dropped);

        let txn = tokio::time::timeout(Duration::from_secs(5), direct.begin())
            .await
            .expect("the turn was handed back")
            .unwrap();
        txn.execute_unprepared("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        txn.commit().await.unwrap();
        let kept: Vec<i64> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT n FROM t")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, [3]);
    }
}

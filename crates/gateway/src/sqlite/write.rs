//! SQLite's writes, on a read-write connection called directly, committed
//! in groups.
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
//! # Group commit
//!
//! A commit waits for the disk (an fsync with `synchronous=FULL`), and
//! under load the fsyncs were most of the time the write turn was held:
//! the commits, not the statements, set how many writes a second SQLite
//! took. So writers share transactions. A writer takes the group's lock,
//! opens the transaction if none is open or else starts a savepoint in it
//! (its [`Member`]), does its work, keeps it (releasing the savepoint) and
//! lets go of the lock; its commit then waits for the group's. If nobody
//! is queued for the lock, it commits at once; otherwise the commit is
//! made once the writers queued before it have joined: one fsync for as
//! many writers as arrived meanwhile, and one for a writer alone.
//!
//! What each writer was promised stays: its work is kept or undone whole
//! (rolled back to its savepoint, without touching the others'), nobody
//! sees it before it is durable (other connections read only committed
//! data), and its commit reports success only once the transaction holding
//! it is on disk. Foreign keys checked at commit time
//! are checked when a writer's work is done, so that one writer's
//! violation cannot fail the others' commit. What may fail them all is what
//! fails the transaction (a full disk, an I/O error): then none of them
//! was durable, and each is told so.
//!
//! SQLite still has one writer at a time: the open transaction holds the
//! pool's write connection, unused (see [`Shared::open`]), so it never
//! overlaps a transaction on the pool (migrations, the sweeper, the
//! gateway's own bookkeeping), and none meets a database made busy by this
//! process (another process's lock is waited for).
//!
//! `COMMIT` and slow statements run with the runtime's worker handed over
//! to another thread (`block_in_place`), as the reader's long reads do.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_service::{OpenWrite, WriteTransaction};
use rusqlite::{CachedStatement, Connection, OpenFlags};
use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Sqlite, SqlitePool};
use sea_orm::{
    Database, DatabaseConnection, DbBackend, DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow,
    RuntimeErr, Statement, TransactionTrait,
};
use tokio::sync::{oneshot, OwnedMutexGuard};

use super::statements::{
    self, described, exec_error, may_block_in_place, query_error, ColumnKind, Statements,
};
use crate::config::SqliteSync;

/// How long a statement waits for another process's lock, as the pool's
/// connection does.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLITE_CONSTRAINT_FOREIGNKEY, as a deferred foreign key fails a commit.
const FOREIGN_KEY_FAILED: &str = "SQLite error 787: FOREIGN KEY constraint failed";

/// What the writers of a transaction SQLite rolled back hear, when the
/// statement that caused it left no reason (SQLITE_IOERR: the database was
/// unavailable, as every reason SQLite has for it is).
const ROLLED_BACK: &str = "SQLite error 10: the write transaction was rolled back";

/// The read-write connection, and the pool whose one connection it takes
/// turns with.
pub struct WriteConnection {
    /// The job writer's statements: `shared`'s connection as sea-orm takes
    /// it, outside any member (the batch holds its own).
    statements: DatabaseConnection,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for WriteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SQLite's direct write connection")
    }
}

/// What every writer uses: the connection, the pool whose connection is
/// the write turn, and the group transaction.
struct Shared {
    statements: Mutex<Statements>,
    pool: SqlitePool,
    group: Arc<tokio::sync::Mutex<Group>>,
    /// Writers waiting for `group`'s lock (not counting commits waiting
    /// for it): while there are any, a writer done leaves the commit for
    /// after them.
    queued: AtomicUsize,
    /// Transactions committed, and the writers' work they held.
    commits: AtomicU64,
    committed_writes: AtomicU64,
    /// Why the open transaction ended under a failed statement (SQLite
    /// rolls the whole of it back on a full disk or an I/O error), for the
    /// writers whose work it held.
    lost: Mutex<Option<String>>,
}

/// See [`WriteConnection::commits`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Commits {
    pub commits: u64,
    pub writes: u64,
}

/// The transaction writers share, and who waits for its commit.
#[derive(Default)]
struct Group {
    /// The pool's connection, held while the transaction is open.
    turn: Option<PoolConnection<Sqlite>>,
    /// The writers whose work the open transaction holds, each told how
    /// its commit went (the error's text, as a direct connection's errors
    /// come).
    waiting: Vec<oneshot::Sender<Result<(), String>>>,
    /// Whether the lock holder's work began with a savepoint, which it
    /// does only when it joined others' work: a writer that opened the
    /// transaction (most, at light load) undoes its work by rolling all of
    /// it back, and spares SQLite the copy of every page it changes that a
    /// savepoint keeps.
    savepoint: bool,
}

impl Group {
    /// The transaction is over, committed or not: the turn goes back and
    /// every writer it held hears how it went.
    fn end(&mut self, outcome: Result<(), String>) {
        self.turn = None;
        for writer in self.waiting.drain(..) {
            let _ = writer.send(outcome.clone());
        }
    }
}

/// A writer counted in [`Shared::queued`] while this lives.
struct Queued<'a>(&'a AtomicUsize);

impl<'a> Queued<'a> {
    fn count(queued: &'a AtomicUsize) -> Self {
        queued.fetch_add(1, Ordering::AcqRel);
        Queued(queued)
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A writer's place in the open transaction: the group's lock, held from
/// its savepoint until its work is kept ([`Shared::keep`]) or undone
/// ([`Shared::undo`]).
type Member = OwnedMutexGuard<Group>;

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
        let shared = Arc::new(Shared {
            statements: Mutex::new(Statements::new(connection)),
            pool,
            group: Arc::default(),
            queued: AtomicUsize::new(0),
            commits: AtomicU64::new(0),
            committed_writes: AtomicU64::new(0),
            lost: Mutex::new(None),
        });
        let statements = Direct::connect(shared.clone(), None).await?;
        Ok(WriteConnection { statements, shared })
    }

    /// Transactions committed so far, and the writes (job-writer batches,
    /// handlers' transactions) they made durable: their ratio is how many
    /// writes shared each wait for the disk.
    pub fn commits(&self) -> Commits {
        Commits {
            commits: self.shared.commits.load(Ordering::Relaxed),
            writes: self.shared.committed_writes.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` as one member of the group transaction: kept and
    /// committed if it succeeds (this returns once it is durable), undone
    /// if it or the commit fails. The job writer's batches.
    pub async fn transaction<T, F>(&self, work: F) -> Result<T, DbErr>
    where
        F: AsyncFnOnce(&DatabaseConnection) -> Result<T, DbErr>,
    {
        let member = self.shared.join().await?;
        match work(&self.statements).await {
            Ok(done) => self.shared.keep(member).await.map(|()| done),
            Err(err) => {
                self.shared.undo(member);
                Err(err)
            }
        }
    }
}

#[async_trait::async_trait]
impl OpenWrite for WriteConnection {
    /// A handler's transaction: a member of the group from its begin to
    /// its commit, which waits for the group's; undone if it is dropped.
    async fn begin(&self) -> Result<WriteTransaction, DbErr> {
        let member = self.shared.join().await?;
        let txn = Direct::connect(self.shared.clone(), Some(member))
            .await?
            .begin()
            .await?;
        Ok(WriteTransaction::committed_by_statement(txn))
    }
}

impl Shared {
    fn connection(&self) -> std::sync::MutexGuard<'_, Statements> {
        self.statements.lock().expect("write connection lock")
    }

    /// Waits for the group's lock, and opens the transaction if none is
    /// or starts this writer's savepoint in it.
    async fn join(&self) -> Result<Member, DbErr> {
        let mut member = {
            let _queued = Queued::count(&self.queued);
            self.group.clone().lock_owned().await
        };
        member.savepoint = member.turn.is_some();
        if !member.savepoint {
            self.open(&mut member).await?;
            return Ok(member);
        }
        let started = self
            .connection()
            .connection
            .prepare_cached("SAVEPOINT member")
            .and_then(|mut savepoint| savepoint.execute([]));
        if let Err(err) = started {
            // Nothing of this writer's is in the transaction: the others'
            // work stays, with no savepoint to roll back to.
            member.savepoint = false;
            let err = exec_error(err);
            self.undo(member);
            return Err(err);
        }
        Ok(member)
    }

    /// Opens the group's transaction, once the turn is held: the pool's
    /// one connection, held unused until the transaction ends. Whatever an
    /// earlier one left open (its ROLLBACK failed too) is undone first.
    ///
    /// Within this process the turn means nobody else writes, so the lock
    /// is taken at once. Another process (an operator's shell, a backup)
    /// may hold it: then the wait, up to the busy timeout, is made with the
    /// runtime's worker handed over.
    async fn open(&self, group: &mut Group) -> Result<(), DbErr> {
        let turn = self
            .pool
            .acquire()
            .await
            .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))?;
        let direct = self.connection();
        let connection = &direct.connection;
        roll_back_if_open(connection)?;
        *self.lost.lock().expect("lost cause lock") = None;
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
        begun.map_err(exec_error)?;
        group.turn = Some(turn);
        Ok(())
    }

    /// A writer's work is done: kept in the open transaction (its
    /// savepoint released), the lock goes to the next writer, and this
    /// waits for the group's commit.
    async fn keep(self: &Arc<Self>, mut member: Member) -> Result<(), DbErr> {
        let released = {
            let direct = self.connection();
            let connection = &direct.connection;
            if deferred_foreign_keys_failed(connection) {
                Err(DbErr::Exec(RuntimeErr::Internal(FOREIGN_KEY_FAILED.into())))
            } else if !member.savepoint {
                Ok(0)
            } else {
                connection
                    .prepare_cached("RELEASE member")
                    .and_then(|mut release| release.execute([]))
                    .map_err(exec_error)
            }
        };
        if let Err(err) = released {
            self.undo(member);
            return Err(err);
        }
        let (reply, committed) = oneshot::channel();
        member.waiting.push(reply);
        if self.queued.load(Ordering::Acquire) == 0 {
            // Nobody to wait for: committed now, without a hand-over.
            self.commit(&mut member);
            drop(member);
        } else {
            drop(member);
            // Once the writers queued so far have joined. A task of its
            // own, so that the commit is made even if this writer's future
            // is dropped while it waits.
            tokio::spawn(self.clone().commit_group());
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(text)) => Err(DbErr::Exec(RuntimeErr::Internal(text))),
            Err(_) => Err(DbErr::Custom(
                "the write transaction ended unreported (the runtime is stopping)".into(),
            )),
        }
    }

    /// A writer's work is undone: rolled back to its savepoint, leaving
    /// the others' for their commit. If the transaction itself is lost
    /// (SQLite rolled all of it back), or nobody else's work is in it (it
    /// has no savepoint then), it ends here, and whoever waits for it
    /// hears why.
    fn undo(&self, mut member: Member) {
        let direct = self.connection();
        let connection = &direct.connection;
        let undone = if connection.is_autocommit() {
            Err(self
                .lost
                .lock()
                .expect("lost cause lock")
                .take()
                .unwrap_or_else(|| ROLLED_BACK.into()))
        } else if member.savepoint {
            connection
                .execute_batch("ROLLBACK TO member; RELEASE member")
                .map_err(|err| described(&err))
        } else {
            Ok(())
        };
        if undone.is_ok() && !member.waiting.is_empty() {
            return;
        }
        if let Err(err) = roll_back_if_open(connection) {
            tracing::warn!(error = %err, "rolling back a failed SQLite transaction");
        }
        member.end(undone);
    }

    /// Commits the open transaction for every writer waiting for it, once
    /// the lock comes round; nothing if an earlier commit already took
    /// their work.
    async fn commit_group(self: Arc<Self>) {
        let mut group = self.group.lock().await;
        if !group.waiting.is_empty() {
            self.commit(&mut group);
        }
    }

    /// Commits the open transaction, and tells every writer in it how it
    /// went.
    fn commit(&self, group: &mut Group) {
        let committed = {
            let direct = self.connection();
            let connection = &direct.connection;
            let commit = || connection.execute_batch("COMMIT");
            let committed = if may_block_in_place() {
                tokio::task::block_in_place(commit)
            } else {
                commit()
            };
            committed.map_err(|err| {
                // A failed COMMIT may leave the transaction open (busy) or
                // rolled back (some I/O errors); an open one would keep
                // SQLite's write lock after the turn is handed back.
                if let Err(err) = roll_back_if_open(connection) {
                    tracing::warn!(error = %err, "rolling back a failed SQLite transaction");
                }
                described(&err)
            })
        };
        if committed.is_ok() {
            self.commits.fetch_add(1, Ordering::Relaxed);
            self.committed_writes
                .fetch_add(group.waiting.len() as u64, Ordering::Relaxed);
        }
        group.end(committed);
    }

    /// Notes why a statement's failure ended the whole transaction, if it
    /// did, for the writers whose work was in it.
    fn failed(&self, connection: &Connection, err: &rusqlite::Error) {
        if connection.is_autocommit() {
            *self.lost.lock().expect("lost cause lock") = Some(described(err));
        }
    }
}

/// Whether a deferred foreign key is still violated, which would fail the
/// COMMIT, and with it every writer in the transaction.
fn deferred_foreign_keys_failed(connection: &Connection) -> bool {
    use rusqlite::ffi;
    let (mut current, mut highest) = (0, 0);
    // SAFETY: the handle is of this open connection, held locked by the
    // caller; sqlite3_db_status only reads one of its counters.
    let status = unsafe {
        ffi::sqlite3_db_status(
            connection.handle(),
            ffi::SQLITE_DBSTATUS_DEFERRED_FKS,
            &mut current,
            &mut highest,
            0,
        )
    };
    status == ffi::SQLITE_OK && current > 0
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

/// Statements run where they are awaited, one at a time, by whoever holds
/// the group's lock. A handler's transaction has one of its own, with its
/// place in the group (`member`) until its work is kept or undone; the job
/// writer's is shared and holds none (its batch does).
struct Direct {
    shared: Arc<Shared>,
    member: Mutex<Option<Member>>,
}

impl Direct {
    async fn connect(
        shared: Arc<Shared>,
        member: Option<Member>,
    ) -> Result<DatabaseConnection, DbErr> {
        let proxy = Direct {
            shared,
            member: Mutex::new(member),
        };
        Database::connect_proxy(DbBackend::Sqlite, Arc::new(Box::new(proxy))).await
    }

    fn member(&self) -> Option<Member> {
        self.member.lock().expect("write member lock").take()
    }

    /// The transaction ended without its work kept: it is undone (a
    /// commit comes as a `COMMIT` statement first, see
    /// [`WriteTransaction`], and has taken the member already).
    fn end(&self) {
        if let Some(member) = self.member() {
            self.shared.undo(member);
        }
    }
}

impl Direct {
    /// Runs `sql`'s prepared statement through `work`, with the runtime's
    /// worker handed over if its last run was long, and notes how long
    /// this one was and, if it failed, whether the failure ended the whole
    /// transaction. Gives the connection's last inserted rowid beside.
    fn run<T>(
        &self,
        sql: &str,
        work: impl FnOnce(&mut CachedStatement<'_>, &[(String, ColumnKind)]) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<(T, i64)> {
        let mut direct = self.shared.connection();
        let direct = &mut *direct;
        let (mut prepared, shape) = direct.prepare(sql)?;
        let columns = &shape.columns;
        let run = || work(&mut prepared, columns);
        let done = if shape.slow && may_block_in_place() {
            tokio::task::block_in_place(run)
        } else {
            run()
        };
        shape.slow = statements::was_slow(&mut prepared);
        drop(prepared);
        match done {
            Ok(done) => Ok((done, direct.connection.last_insert_rowid())),
            Err(err) => {
                self.shared.failed(&direct.connection, &err);
                Err(err)
            }
        }
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
        let (rows, _) = self
            .run(&statement.sql, |prepared, columns| {
                statements::rows(prepared, columns, params)
            })
            .map_err(query_error)?;
        Ok(rows)
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        if statement.sql == "COMMIT" {
            // The handler's commit: its work kept, durable once this
            // returns.
            let Some(member) = self.member() else {
                return Err(DbErr::Custom("COMMIT outside a write transaction".into()));
            };
            self.shared.keep(member).await?;
            return Ok(ProxyExecResult {
                last_insert_id: 0,
                rows_affected: 0,
            });
        }
        let params = statements::parameters(&statement)?;
        let (changed, last_insert_rowid) = self
            .run(&statement.sql, |prepared, _| {
                prepared.execute(rusqlite::params_from_iter(params))
            })
            .map_err(exec_error)?;
        Ok(ProxyExecResult {
            last_insert_id: u64::try_from(last_insert_rowid).unwrap_or(0),
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

    use sea_orm::ConnectionTrait;

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

    /// The numbers in `t`, smallest first.
    fn kept(path: &Path) -> Vec<i64> {
        Connection::open(path)
            .unwrap()
            .prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
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

    /// Writers that queue while another's transaction is open join it,
    /// and one commit makes all of them durable; one that fails is undone
    /// alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_queued_meanwhile_share_one_commit_and_a_failed_one_is_undone_alone() {
        let (dir, direct, _pool) = opened().await;
        let first = direct.begin().await.unwrap();
        first
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let before = direct.commits();
        let batch = spawn_batch_insert(&direct, 2);
        let handler = |sql: &'static str| {
            let direct = direct.clone();
            tokio::spawn(async move {
                let txn = direct.begin().await?;
                txn.execute_unprepared(sql).await?;
                txn.commit().await
            })
        };
        let handled = handler("INSERT INTO t VALUES (3)");
        let failed = handler("INSERT INTO t VALUES (NULL)");
        tokio::time::timeout(Duration::from_secs(5), async {
            while direct.shared.queued.load(Ordering::Acquire) < 3 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the three writers queue for the lock");
        first.commit().await.unwrap();
        batch.await.unwrap().unwrap();
        handled.await.unwrap().unwrap();
        assert!(failed.await.unwrap().is_err());
        assert_eq!(kept(&dir.path().join("actiongate.db")), [1, 2, 3]);
        let after = direct.commits();
        assert_eq!(
            (after.commits - before.commits, after.writes - before.writes),
            (1, 3),
            "one commit for the three writes kept"
        );
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
        assert_eq!(kept(&path), [3]);
    }
}

//! Reads from SQLite on the calling thread.
//!
//! sqlx runs every SQLite connection on a worker thread of its own and
//! hands each query there and back. Under load those hand-offs were most of
//! the CPU a one-row read cost (`perf` on `project/get`: the time went to
//! futex waits and wake-ups in sqlx's channels). A read of cached pages
//! takes microseconds, so the read side of [`actiongate_service::Db`] runs
//! its statements right where they are awaited instead: through rusqlite,
//! on a read-only connection kept per thread, plugged into sea-orm as a
//! proxy backend so handlers keep writing sea-orm queries.
//!
//! What it does not do: writes (they fail with an error; they belong on
//! `Db::write`), and transactions (a transaction begun here gives no
//! snapshot across its statements; use `Db::begin_write` for one).
//!
//! A read that turns out long does not hold a runtime worker other
//! requests need: each statement's last run is measured in SQLite's own
//! virtual-machine steps, and a statement whose last run took more than
//! `SLOW_STEPS` runs next inside `tokio::task::block_in_place`, which
//! hands the worker's other tasks to another thread for as long as it
//! reads. Point lookups, most reads, stay on the fast path.
//!
//! It also counts the reads whose plan lacked an index ([`ReadPlans`]):
//! SQLite's own counters of each statement tell whether it sorted rows or
//! walked a whole table, at the cost of reading two integers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, StatementStatus};
use sea_orm::{DbErr, ProxyDatabaseTrait, ProxyExecResult, ProxyRow, Statement};

use super::statements::{self, may_block_in_place, query_error, Statements};

static NEXT_READER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's connection to each database it has read from.
    static CONNECTIONS: RefCell<HashMap<u64, Statements>> = RefCell::new(HashMap::new());
}

/// Reads whose plan lacked an index, since the start: a list whose order
/// has no index sorts every matching row in a temporary b-tree; a filter
/// with none steps through the whole table.
#[derive(Debug, Default)]
pub struct ReadPlans {
    sorted: AtomicU64,
    scanned: AtomicU64,
    offloaded: AtomicU64,
}

impl ReadPlans {
    /// Reads that sorted rows.
    pub fn sorted(&self) -> u64 {
        self.sorted.load(Ordering::Relaxed)
    }

    /// Reads that walked a whole table (or built a temporary index).
    pub fn scanned(&self) -> u64 {
        self.scanned.load(Ordering::Relaxed)
    }

    /// Reads run with the runtime's worker handed over, their statement's
    /// last run having been long.
    pub fn offloaded(&self) -> u64 {
        self.offloaded.load(Ordering::Relaxed)
    }
}

/// A handle on a database's per-thread read connections; clones share them.
#[derive(Clone, Debug)]
pub struct SqliteReader {
    /// Tells apart the databases of several gateways in one process.
    id: u64,
    path: PathBuf,
    plans: Arc<ReadPlans>,
}

impl SqliteReader {
    pub fn new(path: PathBuf) -> Self {
        SqliteReader {
            id: NEXT_READER.fetch_add(1, Ordering::Relaxed),
            path,
            plans: Arc::default(),
        }
    }

    pub fn plans(&self) -> &ReadPlans {
        &self.plans
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(5))?;
        Ok(connection)
    }

    fn with_connection<T>(
        &self,
        f: impl FnOnce(&mut Statements) -> rusqlite::Result<T>,
    ) -> Result<T, DbErr> {
        CONNECTIONS.with(|connections| {
            let mut connections = connections.borrow_mut();
            let reader = match connections.entry(self.id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(Statements::new(self.open().map_err(query_error)?))
                }
            };
            f(reader).map_err(query_error)
        })
    }
}

impl SqliteReader {
    /// The first column of the first row of `sql` as an integer: a read
    /// that skips sea-orm's query building and row conversion, for the
    /// one read every request makes (the token cache's epoch).
    pub fn query_i64(&self, sql: &str) -> Result<Option<i64>, DbErr> {
        self.with_connection(|reader| {
            let mut prepared = reader.connection.prepare_cached(sql)?;
            let mut rows = prepared.query([])?;
            match rows.next()? {
                Some(row) => row.get(0).map(Some),
                None => Ok(None),
            }
        })
    }
}

#[async_trait::async_trait]
impl ProxyDatabaseTrait for SqliteReader {
    async fn query(&self, statement: Statement) -> Result<Vec<ProxyRow>, DbErr> {
        let params = statements::parameters(&statement)?;
        self.with_connection(|reader| {
            let (mut prepared, shape) = reader.prepare(&statement.sql)?;
            let read = || statements::rows(&mut prepared, &shape.columns, params);
            let out = if shape.slow && may_block_in_place() {
                self.plans.offloaded.fetch_add(1, Ordering::Relaxed);
                tokio::task::block_in_place(read)?
            } else {
                read()?
            };
            // Each counter is reset every time: the statement is cached, and
            // its next run must start from zero.
            shape.slow = statements::was_slow(&mut prepared);
            let sorted = prepared.reset_status(StatementStatus::Sort) > 0;
            let full_scans = prepared.reset_status(StatementStatus::FullscanStep);
            let auto_indexes = prepared.reset_status(StatementStatus::AutoIndex);
            let scanned = full_scans > 0 || auto_indexes > 0;
            if sorted {
                self.plans.sorted.fetch_add(1, Ordering::Relaxed);
            }
            if scanned {
                self.plans.scanned.fetch_add(1, Ordering::Relaxed);
            }
            if sorted || scanned {
                tracing::debug!(sql = %statement.sql, sorted, scanned, "a read without the index it needs");
            }
            Ok(out)
        })
    }

    async fn execute(&self, statement: Statement) -> Result<ProxyExecResult, DbErr> {
        Err(DbErr::Custom(format!(
            "the SQLite read connection does not write (use Db::write): {}",
            statement.sql
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_read_runs_next_with_the_worker_handed_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reads.db");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);
                 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
                 INSERT INTO t SELECT i, i % 7 FROM c;",
            )
            .unwrap();
        let reader = SqliteReader::new(path);
        let read = |sql: &str| Statement::from_string(sea_orm::DbBackend::Sqlite, sql.to_owned());
        for _ in 0..3 {
            let point = reader
                .query(read("SELECT n FROM t WHERE id = 5"))
                .await
                .unwrap();
            assert_eq!(point.len(), 1);
        }
        assert_eq!(
            reader.plans().offloaded(),
            0,
            "point lookups stay on the worker"
        );
        let long = "SELECT count(*) AS c FROM t WHERE n * 3 % 5 = 1";
        reader.query(read(long)).await.unwrap();
        assert_eq!(
            reader.plans().offloaded(),
            0,
            "a first run is not known to be long"
        );
        let counted = reader.query(read(long)).await.unwrap();
        assert_eq!(
            reader.plans().offloaded(),
            1,
            "its next run hands the worker over"
        );
        assert_eq!(counted.len(), 1);
    }
}

//! A handler's write transaction, whose final commit belongs to the gateway.
//!
//! A handler writes as usual: `let txn = ctx.begin_write().await?;`, its
//! statements on `&txn`, then `txn.commit().await`. That commit does not
//! reach the database yet: it hands the transaction back to the gateway,
//! which commits it after the handler returns, in the same transaction as
//! the request's recorded result when the request is a job. So a job whose
//! result committed never runs again, and one whose result did not leaves
//! nothing behind. Dropping a `WriteTxn` without committing rolls it back.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};

use crate::call::CallState;

/// Begins write transactions that run somewhere other than through
/// `Db::write`'s driver. The gateway sets one on SQLite, where a
/// transaction's statements run on a connection of its own (see the
/// gateway's `sqlite` module) while it holds `Db::write` as its turn.
#[async_trait::async_trait]
pub trait OpenWrite: Send + Sync + std::fmt::Debug {
    async fn begin(&self) -> Result<WriteTransaction, DbErr>;
}

/// An open write transaction, and how it commits.
pub struct WriteTransaction {
    txn: DatabaseTransaction,
    commit: CommitBy,
}

enum CommitBy {
    /// The driver's own commit (sqlx's).
    Driver,
    /// A `COMMIT` statement first: a proxy connection's commit in sea-orm
    /// cannot report a failure, and a failed commit must reach the caller.
    Statement,
}

impl WriteTransaction {
    /// A transaction the driver commits.
    pub fn new(txn: DatabaseTransaction) -> Self {
        WriteTransaction {
            txn,
            commit: CommitBy::Driver,
        }
    }

    /// A transaction on a proxy connection, committed by a `COMMIT`
    /// statement; the proxy's own commit then only lets go of it.
    pub fn committed_by_statement(txn: DatabaseTransaction) -> Self {
        WriteTransaction {
            txn,
            commit: CommitBy::Statement,
        }
    }

    /// Commits it. Dropped instead, it rolls back.
    pub async fn commit(self) -> Result<(), DbErr> {
        if let CommitBy::Statement = self.commit {
            self.txn.execute_unprepared("COMMIT").await?;
        }
        self.txn.commit().await
    }
}

/// Its statements, and nothing else of sea-orm's transaction: a nested
/// `begin` on a proxy connection would end the whole transaction at its
/// commit.
#[async_trait::async_trait]
impl ConnectionTrait for WriteTransaction {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
}

/// The call's write transaction. Use `&txn` wherever sea-orm takes a
/// connection.
pub struct WriteTxn {
    txn: Option<WriteTransaction>,
    /// Where the transaction waits for the gateway after `commit`.
    call: Arc<CallState>,
}

impl WriteTxn {
    pub(crate) fn new(txn: WriteTransaction, call: Arc<CallState>) -> Self {
        WriteTxn {
            txn: Some(txn),
            call,
        }
    }

    fn inner(&self) -> &WriteTransaction {
        self.txn
            .as_ref()
            .expect("a WriteTxn holds its transaction until commit")
    }

    /// Marks the writes as done. The gateway commits them when the call
    /// ends, with its result; see the module documentation.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let txn = self.txn.take().expect("committed once");
        *self.call.pending.lock().expect("pending write lock") = Some(txn);
        Ok(())
    }

    /// [`WriteTxn::commit`], naming `target` as the record the call changed
    /// for its audit event: how a handler ends its write.
    pub async fn commit_for(self, target: impl Into<String>) -> Result<(), DbErr> {
        *self.call.audit_target.lock().expect("audit target lock") = Some(target.into());
        self.commit().await
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner().get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner().execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner().execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner().query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner().query_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.inner().support_returning()
    }
}

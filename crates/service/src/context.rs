//! What a handler is given besides its input: who is calling, the request
//! id, the database, and its service's own settings.

use std::sync::Arc;

use actiongate_wire::{ApiError, RequestId};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

/// The authenticated caller: the token, the user it acts for, and the one
/// organization it is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub user_id: String,
    pub org_id: String,
}

/// The database, as handlers use it.
///
/// `read` serves single statements and read-only transactions. A
/// transaction that writes must start with [`Db::begin_write`]: on SQLite
/// it runs on the one writer connection, because a transaction that reads
/// and then writes fails (`SQLITE_BUSY_SNAPSHOT`) whenever another
/// connection commits in between; on PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Db {
    pub read: DatabaseConnection,
    pub write: DatabaseConnection,
}

impl Db {
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write.begin().await
    }
}

/// The context of one call.
#[derive(Clone)]
pub struct Ctx {
    pub request_id: RequestId,
    pub principal: Arc<Principal>,
    pub db: Db,
    state: Arc<http::Extensions>,
}

impl Ctx {
    pub fn new(
        request_id: RequestId,
        principal: Arc<Principal>,
        db: Db,
        state: Arc<http::Extensions>,
    ) -> Self {
        Ctx {
            request_id,
            principal,
            db,
            state,
        }
    }

    /// Starts a transaction that writes; see [`Db`].
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, ApiError> {
        self.db
            .begin_write()
            .await
            .map_err(|err| self.internal(err))
    }

    /// An `InternalError` for an unexpected failure: the cause goes to the
    /// log with the request id, the caller sees only the id.
    pub fn internal(&self, cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(request_id = %self.request_id, error = %cause, "action failed");
        ApiError::internal(self.request_id)
    }

    /// The service's own state of type `T`, as given to [`crate::Service::state`].
    ///
    /// # Panics
    /// If the service never registered a `T`: a programming error caught by
    /// the first test that calls the action.
    pub fn state<T: Send + Sync + 'static>(&self) -> &T {
        self.state.get::<T>().unwrap_or_else(|| {
            panic!(
                "service state {} was not registered",
                std::any::type_name::<T>()
            )
        })
    }
}

//! What a handler's `?` turns into: a status for the caller, or a database
//! error the gateway classifies.
//!
//! Handlers write `?` on both [`ApiError`]s and sea-orm's [`DbErr`]. The
//! gateway, not the handler, decides what a database error means: a
//! connection that is briefly away (refused, reset, closed, a pool timeout,
//! SQLite busy or locked, a full disk) is [`is_transient`], answered
//! `ServiceNotAvailable` and, for a job, run again later; anything else is a
//! fault, logged with the request id and answered `InternalError`.

use actiongate_wire::ApiError;
use sea_orm::{DbErr, RuntimeErr};

/// A handler's error.
#[derive(Debug)]
pub enum ActionError {
    /// An answer for the caller: its status, summary and field errors.
    Api(ApiError),
    /// The database failed; see the module documentation.
    Db(DbErr),
}

impl From<ApiError> for ActionError {
    fn from(err: ApiError) -> Self {
        ActionError::Api(err)
    }
}

impl From<DbErr> for ActionError {
    fn from(err: DbErr) -> Self {
        ActionError::Db(err)
    }
}

impl ActionError {
    /// The caller's status, when this is one (`None` for database errors).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ActionError::Api(err) => Some(err),
            ActionError::Db(_) => None,
        }
    }
}

/// Why a database error is worth retrying, if it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transient {
    /// The connection is down, or busy: retry shortly.
    Unavailable,
    /// The disk is full: retry once space is freed.
    StorageFull,
}

/// Whether `err` is the database being briefly away rather than a fault:
/// the same statement can succeed once it answers again.
pub fn is_transient(err: &DbErr) -> Option<Transient> {
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return Some(Transient::Unavailable),
        DbErr::Conn(err) | DbErr::Exec(err) | DbErr::Query(err) => err,
        _ => return None,
    };
    let RuntimeErr::SqlxError(err) = runtime else {
        // The errors of the gateway's direct SQLite connections come as
        // text (its `sqlite` module), naming SQLite's result code.
        let text = runtime.to_string();
        return match direct_sqlite_code(&text) {
            Some(code) => sqlite_code(code),
            None => sqlite_text(&text),
        };
    };
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        Sqlx::Io(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_) => Some(Transient::Unavailable),
        Sqlx::Database(db) => {
            let code = db.code();
            match code.as_deref() {
                // PostgreSQL: connection exceptions (08), operator
                // intervention (57P01 admin shutdown, 57P02 crash
                // shutdown, 57P03 cannot connect now), insufficient
                // resources (53100 disk full, 53200 out of memory, 53300
                // too many connections), serialization failure, deadlock.
                Some("53100") => Some(Transient::StorageFull),
                Some(code)
                    if code.starts_with("08")
                        || code.starts_with("57P")
                        || code.starts_with("53")
                        || code == "40001"
                        || code == "40P01" =>
                {
                    Some(Transient::Unavailable)
                }
                // SQLite: extended codes (at most 4 digits; PostgreSQL's
                // are 5 characters) keep the primary code in the low byte:
                // 5 busy, 6 locked, 13 full, 10 I/O error.
                Some(code) if code.len() < 5 => code.parse().ok().and_then(sqlite_code),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether `err` is a unique key (or primary key) clash, on any of the
/// database's connections.
pub fn is_unique_violation(err: &DbErr) -> bool {
    if let Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        return true;
    }
    let (DbErr::Exec(RuntimeErr::Internal(text)) | DbErr::Query(RuntimeErr::Internal(text))) = err
    else {
        return false;
    };
    // SQLITE_CONSTRAINT_PRIMARYKEY and SQLITE_CONSTRAINT_UNIQUE, as
    // sea-orm reads them from sqlx's errors.
    matches!(direct_sqlite_code(text), Some(1555 | 2067))
}

/// The extended result code a direct SQLite connection's error names: it
/// reads `SQLite error <code>: <message>`.
fn direct_sqlite_code(text: &str) -> Option<i32> {
    let (code, _) = text.strip_prefix("SQLite error ")?.split_once(':')?;
    code.parse().ok()
}

/// What a SQLite extended result code means here: its low byte is the
/// primary code, 5 busy, 6 locked, 13 full, 10 I/O error.
fn sqlite_code(code: i32) -> Option<Transient> {
    match code & 0xff {
        13 => Some(Transient::StorageFull),
        5 | 6 | 10 => Some(Transient::Unavailable),
        _ => None,
    }
}

fn sqlite_text(text: &str) -> Option<Transient> {
    if text.contains("database or disk is full") {
        Some(Transient::StorageFull)
    } else if text.contains("database is locked")
        || text.contains("database table is locked")
        || text.contains("disk I/O error")
    {
        Some(Transient::Unavailable)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_transient_and_constraint_errors_are_not() {
        let io = DbErr::Conn(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        )));
        assert_eq!(is_transient(&io), Some(Transient::Unavailable));
        let pool = DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::PoolTimedOut));
        assert_eq!(is_transient(&pool), Some(Transient::Unavailable));
        let locked = DbErr::Query(RuntimeErr::Internal("database is locked".into()));
        assert_eq!(is_transient(&locked), Some(Transient::Unavailable));
        let full = DbErr::Exec(RuntimeErr::Internal("database or disk is full".into()));
        assert_eq!(is_transient(&full), Some(Transient::StorageFull));
        let missing = DbErr::RecordNotFound("x".into());
        assert_eq!(is_transient(&missing), None);
        let syntax = DbErr::Query(RuntimeErr::Internal("near \"SELEC\": syntax error".into()));
        assert_eq!(is_transient(&syntax), None);
        let busy = DbErr::Exec(RuntimeErr::Internal("SQLite error 517: busy".into()));
        assert_eq!(is_transient(&busy), Some(Transient::Unavailable));
        let full = DbErr::Exec(RuntimeErr::Internal("SQLite error 13: full".into()));
        assert_eq!(is_transient(&full), Some(Transient::StorageFull));
        let unique = DbErr::Exec(RuntimeErr::Internal(
            "SQLite error 2067: UNIQUE constraint failed: t.n".into(),
        ));
        assert_eq!(is_transient(&unique), None);
        assert!(is_unique_violation(&unique));
        assert!(!is_unique_violation(&full));
    }
}

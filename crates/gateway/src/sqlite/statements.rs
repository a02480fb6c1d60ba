//! What the reader and the write connection share: a rusqlite connection
//! with its prepared statements, sea-query parameters bound as SQLite
//! stores them, rows turned into what sea-orm expects of each column, and
//! when a statement is long enough to hand the runtime's worker over.

use std::collections::{BTreeMap, HashMap};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{CachedStatement, Connection, StatementStatus};
use sea_orm::sea_query::Value;
use sea_orm::{DbErr, ProxyRow, RuntimeErr, Statement};

/// Statements prepared once per connection and reused.
const STATEMENT_CACHE: usize = 128;

/// Past this many virtual-machine steps (on the order of a millisecond),
/// a statement's next run leaves the runtime's worker free.
const SLOW_STEPS: i32 = 100_000;

/// A connection and the result columns of each statement it has run
/// (their names and what sea-orm expects of them).
pub(super) struct Statements {
    pub connection: Connection,
    shapes: HashMap<String, Shape>,
}

/// What a statement gives back, and how long its last run was.
pub(super) struct Shape {
    pub columns: Box<[(String, ColumnKind)]>,
    /// The last run was long (see [`was_slow`]).
    pub slow: bool,
}

impl Statements {
    pub fn new(connection: Connection) -> Self {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Statements {
            connection,
            shapes: HashMap::new(),
        }
    }

    /// `sql` prepared (from the cache after its first run), with the shape
    /// of its rows.
    pub fn prepare(&mut self, sql: &str) -> rusqlite::Result<(CachedStatement<'_>, &mut Shape)> {
        let prepared = self.connection.prepare_cached(sql)?;
        if !self.shapes.contains_key(sql) {
            // Bounded like the statement cache: the queries a program
            // makes are few, but some text (IN lists) varies.
            if self.shapes.len() >= STATEMENT_CACHE {
                self.shapes.clear();
            }
            let columns = prepared
                .columns()
                .iter()
                .map(|c| (c.name().to_owned(), ColumnKind::of(c.decl_type())))
                .collect();
            self.shapes.insert(
                sql.to_owned(),
                Shape {
                    columns,
                    slow: false,
                },
            );
        }
        let shape = self.shapes.get_mut(sql).expect("inserted above");
        Ok((prepared, shape))
    }
}

/// Whether `prepared`'s run since the last look took more than
/// [`SLOW_STEPS`]; its count starts again from zero.
pub(super) fn was_slow(prepared: &mut CachedStatement<'_>) -> bool {
    prepared.reset_status(StatementStatus::VmStep) > SLOW_STEPS
}

/// Whether this thread is a worker of a multi-threaded runtime, where
/// `block_in_place` can hand its other tasks over (elsewhere, as in a
/// single-threaded runtime, a statement runs where it is).
pub(super) fn may_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|handle| handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Every row `prepared` gives with `params`, each column as `columns` says.
pub(super) fn rows(
    prepared: &mut CachedStatement<'_>,
    columns: &[(String, ColumnKind)],
    params: Vec<SqlValue>,
) -> rusqlite::Result<Vec<ProxyRow>> {
    let mut rows = prepared.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = BTreeMap::new();
        for (index, (name, kind)) in columns.iter().enumerate() {
            values.insert(name.clone(), kind.value(row.get_ref(index)?));
        }
        out.push(ProxyRow::new(values));
    }
    Ok(out)
}

/// A statement's parameters as SQLite stores them.
pub(super) fn parameters(statement: &Statement) -> Result<Vec<SqlValue>, DbErr> {
    match &statement.values {
        Some(values) => values.0.iter().map(parameter).collect(),
        None => Ok(Vec::new()),
    }
}

/// A SQLite error as sea-orm carries a driver's: `SQLite error <extended
/// code>: <message>`, whose code `actiongate_service::is_transient` (busy,
/// locked, full, I/O) and `is_unique_violation` read.
pub(super) fn query_error(err: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(described(&err)))
}

/// [`query_error`] for a statement that writes.
pub(super) fn exec_error(err: rusqlite::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::Internal(described(&err)))
}

pub(super) fn described(err: &rusqlite::Error) -> String {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => {
            format!("SQLite error {}: {err}", failure.extended_code)
        }
        other => format!("SQLite: {other}"),
    }
}

/// A sea-query parameter as SQLite stores it (booleans as 0 and 1, as sqlx
/// writes them).
fn parameter(value: &Value) -> Result<SqlValue, DbErr> {
    Ok(match value {
        Value::Bool(v) => v.map_or(SqlValue::Null, |b| SqlValue::Integer(i64::from(b))),
        Value::TinyInt(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::SmallInt(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::Int(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::BigInt(v) => v.map_or(SqlValue::Null, SqlValue::Integer),
        Value::TinyUnsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::SmallUnsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::Unsigned(v) => v.map_or(SqlValue::Null, |n| SqlValue::Integer(n.into())),
        Value::BigUnsigned(v) => match v {
            None => SqlValue::Null,
            Some(n) => SqlValue::Integer(
                i64::try_from(*n)
                    .map_err(|_| DbErr::Custom(format!("{n} does not fit SQLite's integer")))?,
            ),
        },
        Value::Float(v) => v.map_or(SqlValue::Null, |n| SqlValue::Real(n.into())),
        Value::Double(v) => v.map_or(SqlValue::Null, SqlValue::Real),
        Value::String(v) => v
            .as_ref()
            .map_or(SqlValue::Null, |s| SqlValue::Text(s.to_string())),
        Value::Char(v) => v.map_or(SqlValue::Null, |c| SqlValue::Text(c.to_string())),
        Value::Bytes(v) => v
            .as_ref()
            .map_or(SqlValue::Null, |b| SqlValue::Blob(b.to_vec())),
        other => {
            return Err(DbErr::Custom(format!(
                "parameter type not supported on SQLite's direct connections: {other:?}"
            )))
        }
    })
}

/// What sea-orm expects of a column, from its declared type: the model's
/// Rust type decides which `Value` variant it accepts, NULLs included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ColumnKind {
    Text,
    BigInt,
    Int,
    Bool,
    Bytes,
    Real,
    /// No declared type (an expression such as `COUNT(*)`): go by the value.
    Any,
}

impl ColumnKind {
    fn of(decl_type: Option<&str>) -> Self {
        let Some(decl) = decl_type else {
            return ColumnKind::Any;
        };
        let base = decl
            .split('(')
            .next()
            .unwrap_or(decl)
            .trim()
            .to_ascii_lowercase();
        match base.as_str() {
            "bigint" => ColumnKind::BigInt,
            // An auto-increment `big_integer` key is declared `integer` on
            // SQLite (the rowid's alias), so an i64 model field there does
            // not decode through these connections: read such a key on the
            // pool, or select an expression instead.
            "integer" | "int" | "smallint" | "tinyint" => ColumnKind::Int,
            "boolean" | "bool" => ColumnKind::Bool,
            "blob" | "binary" | "varbinary" => ColumnKind::Bytes,
            "real" | "double" | "float" => ColumnKind::Real,
            "varchar" | "text" | "char" | "string" => ColumnKind::Text,
            _ => ColumnKind::Any,
        }
    }

    fn value(self, cell: ValueRef<'_>) -> Value {
        match (self, cell) {
            (ColumnKind::Text, ValueRef::Null) => Value::String(None),
            (ColumnKind::BigInt, ValueRef::Null) => Value::BigInt(None),
            (ColumnKind::Int, ValueRef::Null) => Value::Int(None),
            (ColumnKind::Bool, ValueRef::Null) => Value::Bool(None),
            (ColumnKind::Bytes, ValueRef::Null) => Value::Bytes(None),
            (ColumnKind::Real, ValueRef::Null) => Value::Double(None),
            (ColumnKind::Any, ValueRef::Null) => Value::String(None),
            (ColumnKind::Bool, ValueRef::Integer(n)) => Value::Bool(Some(n != 0)),
            // sea-orm reads `COUNT(*)` as i32 on SQLite: untyped integers
            // that fit are `Int`.
            (ColumnKind::Int | ColumnKind::Any, ValueRef::Integer(n)) => match i32::try_from(n) {
                Ok(n) => Value::Int(Some(n)),
                Err(_) => Value::BigInt(Some(n)),
            },
            (_, ValueRef::Integer(n)) => Value::BigInt(Some(n)),
            (_, ValueRef::Real(f)) => Value::Double(Some(f)),
            (_, ValueRef::Text(bytes)) => {
                Value::String(Some(Box::new(String::from_utf8_lossy(bytes).into_owned())))
            }
            (_, ValueRef::Blob(bytes)) => Value::Bytes(Some(Box::new(bytes.to_vec()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_pick_the_value_variant() {
        assert_eq!(ColumnKind::of(Some("varchar(64)")), ColumnKind::Text);
        assert_eq!(ColumnKind::of(Some("bigint")), ColumnKind::BigInt);
        assert_eq!(ColumnKind::of(Some("blob(1)")), ColumnKind::Bytes);
        assert_eq!(ColumnKind::of(None), ColumnKind::Any);
        assert_eq!(
            ColumnKind::Bool.value(ValueRef::Integer(1)),
            Value::Bool(Some(true))
        );
        assert_eq!(
            ColumnKind::BigInt.value(ValueRef::Null),
            Value::BigInt(None)
        );
        assert_eq!(
            ColumnKind::Int.value(ValueRef::Integer(7)),
            Value::Int(Some(7))
        );
        assert_eq!(
            ColumnKind::Any.value(ValueRef::Integer(7)),
            Value::Int(Some(7))
        );
        assert_eq!(
            ColumnKind::Any.value(ValueRef::Integer(1 << 40)),
            Value::BigInt(Some(1 << 40))
        );
    }
}

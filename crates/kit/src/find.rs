//! Lookups by primary key, with their SQL built once.
//!
//! sea-query builds a statement's text on every call, quoting and
//! formatting each column of the table: on `project/get`, `perf` put that
//! at a quarter of the project lookup's time, as much as SQLite's own
//! work. A lookup by id has the same text every time, so it is built once
//! per entity and backend (per thread, so no lock is shared) and only the
//! id is bound on each call.

use std::any::TypeId;
use std::cell::RefCell;
use std::collections::HashMap;

use sea_orm::sea_query::Value;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, PrimaryKeyTrait, QueryTrait,
    Statement,
};

thread_local! {
    /// The text of each entity's lookup by id, by backend.
    static BUILT: RefCell<HashMap<(TypeId, u8), String>> = RefCell::default();
}

/// The row of `E` whose (one-column) primary key is `id`, if any.
pub async fn by_id<E>(db: &impl ConnectionTrait, id: &str) -> Result<Option<E::Model>, DbErr>
where
    E: EntityTrait + 'static,
    String: Into<<E::PrimaryKey as PrimaryKeyTrait>::ValueType>,
{
    let backend = db.get_database_backend();
    let key = (
        TypeId::of::<E>(),
        match backend {
            DbBackend::Sqlite => 0,
            DbBackend::Postgres => 1,
            DbBackend::MySql => 2,
        },
    );
    let sql = BUILT.with(|built| {
        built
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let statement = E::find_by_id(id.to_owned()).build(backend);
                debug_assert_eq!(statement.values.map_or(0, |v| v.0.len()), 1);
                statement.sql
            })
            .clone()
    });
    // Straight to the model: `E::find().from_raw_sql(..)` would first
    // build a select of every column, only to drop it.
    E::Model::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [Value::from(id)],
    ))
    .one(db)
    .await
}

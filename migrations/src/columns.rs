//! Column shapes the migrations share, so every table spells an id, a
//! text or a time the same way.

use sea_orm_migration::prelude::*;

pub fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .string_len(64)
        .not_null()
        .primary_key()
        .to_owned()
}

pub fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

pub fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}

/// A time, in milliseconds since the Unix epoch.
pub fn at(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

pub fn at_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().null().to_owned()
}

/// An index named `name` on `table`'s `columns`, in that order.
pub fn index<T: IntoIden + 'static, C: IntoIden>(
    name: &str,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for column in columns {
        index.col(column);
    }
    index.to_owned()
}

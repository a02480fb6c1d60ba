//! List paging, the same everywhere: `offset`, `limit` (default 20, at
//! most 1000), and `count` of all matches in the result.

use actiongate_service::{ActionResult, ApiError, Ctx};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryOrder, QuerySelect, Select};

pub const DEFAULT_LIMIT: u64 = 20;
pub const MAX_LIMIT: u64 = 1000;

/// `(offset, limit)` of a list's input, or a `ValidationError` naming
/// `/limit`: every list's first step.
pub fn bounds(offset: Option<u64>, limit: Option<u64>) -> Result<(u64, u64), ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid_field(
            "/limit",
            "InvalidValue",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((offset.unwrap_or(0), limit))
}

pub use actiongate_wire::Page;

/// One page of `query` (already filtered and ordered), with the count of
/// all its rows.
pub async fn fetch<E, T>(
    ctx: &Ctx,
    query: Select<E>,
    offset: u64,
    limit: u64,
) -> ActionResult<Page<T>>
where
    E: EntityTrait,
    E::Model: Sync,
    T: From<E::Model>,
{
    let count = query.clone().count(ctx.read()).await?;
    let rows = query.offset(offset).limit(limit).all(ctx.read()).await?;
    Ok(Page {
        results: rows.into_iter().map(T::from).collect(),
        count,
        offset,
    })
}

/// How a list is sorted: `order_by` is `field` or `-field` (descending),
/// one of `columns` (by name); `None` sorts by `default`. Ties are broken
/// by `id`, in the same direction, so pages never overlap, except on a
/// column in `unique`.
pub struct Order<C: 'static> {
    pub columns: &'static [(&'static str, C)],
    pub default: C,
    pub id: C,
    /// Columns unique within every list sorted by this order (a project's
    /// environments by name), which never tie. They are sorted without
    /// the tie-breaker, so that their unique index serves the order:
    /// PostgreSQL, unlike SQLite, does not infer that `id` adds nothing,
    /// and would sort every row instead.
    pub unique: &'static [C],
}

impl<C: ColumnTrait> Order<C> {
    /// `query` sorted as `order_by` asks, or a `ValidationError` naming
    /// `/order_by` and the fields it may be.
    pub fn apply<E>(&self, query: Select<E>, order_by: Option<&str>) -> Result<Select<E>, ApiError>
    where
        E: EntityTrait<Column = C>,
    {
        let (column, descending) = match order_by {
            None => (self.default, false),
            Some(spec) => {
                let (field, descending) = match spec.strip_prefix('-') {
                    Some(field) => (field, true),
                    None => (spec, false),
                };
                let column = self
                    .columns
                    .iter()
                    .find(|(name, _)| *name == field)
                    .map(|(_, column)| *column)
                    .ok_or_else(|| {
                        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
                        ApiError::invalid_field(
                            "/order_by",
                            "InvalidValue",
                            format!(
                                "must be one of {}, optionally with a leading -",
                                names.join(", ")
                            ),
                        )
                    })?;
                (column, descending)
            }
        };
        let order = if descending {
            sea_orm::Order::Desc
        } else {
            sea_orm::Order::Asc
        };
        let unique = self.unique.iter().any(|u| u.as_str() == column.as_str());
        let query = query.order_by(column, order.clone());
        Ok(if unique {
            query
        } else {
            query.order_by(self.id, order)
        })
    }
}

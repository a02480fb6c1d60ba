//! Field checks: the checked types themselves are wire types
//! ([`actiongate_wire::fields`], shared with clients); what is here needs
//! the server: optimistic concurrency, unique-key clashes, partial updates.

use actiongate_service::{ActionError, ApiError, Timestamp};
use sea_orm::DbErr;

pub use actiongate_wire::fields::*;

/// `Conflict` when the caller's `if_updated_at` is not the record's.
pub fn check_unchanged(if_updated_at: Option<Timestamp>, updated_at: i64) -> Result<(), ApiError> {
    match if_updated_at {
        Some(seen) if seen.unix_ms() != updated_at => Err(ApiError::conflict(
            "The record was modified since if_updated_at; fetch it again and retry",
        )),
        _ => Ok(()),
    }
}

/// A unique-key clash as the caller should see it: a `Conflict` about
/// `what`, pointing at the field `pointer`. Any other database error is
/// left for the gateway to classify.
pub fn duplicate_is_conflict<'a>(
    what: &'a str,
    pointer: &'a str,
) -> impl FnOnce(DbErr) -> ActionError + 'a {
    move |err| {
        if actiongate_service::is_unique_violation(&err) {
            ApiError::conflict(what).at(pointer, "Duplicate").into()
        } else {
            err.into()
        }
    }
}

/// Now, as records store it: milliseconds since the Unix epoch.
pub fn now() -> i64 {
    Timestamp::now_ms()
}

/// Applies an update's partial fields: each field the caller gave (`Some`)
/// is set on the active model, each it left out stays as it was.
/// `optional: [...]` names nullable columns (`Set(Some(value))`), a bare
/// list columns that are not.
///
/// ```ignore
/// patch!(active, input, optional: [display_name, description, color]);
/// patch!(active, input, [single_server_mode]);
/// ```
#[macro_export]
macro_rules! patch {
    ($active:ident, $input:ident, optional: [$($field:ident),* $(,)?]) => {
        $(if let Some(value) = $input.$field {
            $active.$field = ::sea_orm::Set(Some(value.into()));
        })*
    };
    ($active:ident, $input:ident, [$($field:ident),* $(,)?]) => {
        $(if let Some(value) = $input.$field {
            $active.$field = ::sea_orm::Set(value.into());
        })*
    };
}

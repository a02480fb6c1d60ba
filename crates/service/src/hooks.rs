//! What each service does to its own records when something they belong
//! to is deleted by another service.
//!
//! A project's environments belong to the deploy service and its invites to
//! the access service, but the console deletes projects. Rather than the
//! console naming their tables, each service registers a hook
//! ([`crate::Service::on_projects_deleted`]); the gateway gathers every
//! service's hooks, and [`crate::Ctx::delete_project_contents`] runs them
//! all in the deleting call's transaction.

use futures_util::future::BoxFuture;
use sea_orm::sea_query::SelectStatement;
use sea_orm::{DatabaseConnection, DbErr};

use crate::WriteTxn;

/// Deletes a service's records in the projects a subquery selects (their
/// ids), inside the deleting call's transaction.
pub type OnProjectsDeleted =
    for<'a> fn(&'a WriteTxn, SelectStatement) -> BoxFuture<'a, Result<(), DbErr>>;

/// Deletes up to `limit` of a service's records whose time ran out before
/// `now` (Unix ms), and says how many. The gateway calls it every sweep
/// interval, again while it deletes a full batch.
pub type SweepExpired =
    for<'a> fn(&'a DatabaseConnection, i64, u64) -> BoxFuture<'a, Result<u64, DbErr>>;

/// Seals again, under the keyring's primary key, every sensitive value a
/// service keeps that another key sealed, in the rotation's transaction;
/// how many it resealed.
pub type ResealSecrets = for<'a> fn(
    &'a sea_orm::DatabaseTransaction,
    &'a crate::secrets::Keyring,
) -> BoxFuture<'a, Result<u64, DbErr>>;

/// Acts on activities' changes of state, in the transaction that takes
/// them from the outbox: what it writes and the jobs it returns commit
/// with their removal, so each event is acted on once.
pub type OnActivityEvents = for<'a> fn(
    &'a sea_orm::DatabaseTransaction,
    &'a [crate::ActivityEvent],
) -> BoxFuture<'a, Result<Vec<crate::NewJob>, DbErr>>;

/// Every registered service's hooks, shared by all calls.
#[derive(Clone, Default)]
pub struct Hooks {
    pub(crate) projects_deleted: Vec<OnProjectsDeleted>,
}

impl Hooks {
    /// Gathers the hooks of `services`.
    pub fn of<'a>(services: impl IntoIterator<Item = &'a crate::Service>) -> Self {
        Hooks {
            projects_deleted: services
                .into_iter()
                .flat_map(|service| service.projects_deleted.iter().copied())
                .collect(),
        }
    }
}

//! Records that live in a project (environments, variables, invites, ...):
//! loaded only when the caller may see them, at a role, in their project.
//!
//! A service says once, by implementing [`Record`], how to find one of its
//! records and which project it is in. Then [`load`] is every handler's
//! lookup, and [`record`] the [`Scope`] its actions declare, so that the
//! gateway checks the caller's role in that project before anything runs.

use std::future::Future;

use actiongate_service::rules::Target;
use actiongate_service::{ActionResult, ApiError, Ctx, Home, RecordPlace, Role, Scope, Status};
use sea_orm::{ConnectionTrait, DbErr};

use crate::scope::{self, ProjectScope};

/// A kind of record that belongs to one project.
pub trait Record: Sized + Send + 'static {
    /// What it is called in messages: `environment`, `variable`, ...
    const KIND: &'static str;

    /// The record with this id, whoever may see it.
    fn find(
        db: &impl ConnectionTrait,
        id: &str,
    ) -> impl Future<Output = Result<Option<Self>, DbErr>> + Send;

    /// The project it belongs to.
    fn project_id(&self) -> &str;

    /// What it belongs to: its project, unless the kind has records of an
    /// organization as a whole too.
    fn home(&self) -> Home {
        Home::Project(self.project_id().to_owned())
    }

    /// The serialization key of the activities on it, when it is not the
    /// record's own `kind:id` (see [`actiongate_service::RecordPlace`]).
    fn queue_key(&self) -> Option<String> {
        None
    }
}

/// A record and the caller's place in its project.
pub struct Loaded<R> {
    pub record: R,
    pub scope: ProjectScope,
}

/// Record `id` of kind `R`, if the caller may see its project and holds at
/// least `least` there. A record in a project the caller cannot see is
/// `ResourceNotFound`, exactly as one that does not exist.
pub async fn load<R: Record>(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<Loaded<R>> {
    load_in(ctx, db, id, least, false).await
}

/// [`load`], with the record's project row locked until the transaction
/// ends, for changes that must not interleave with another to the same
/// project (see [`scope::project_for_update`]).
pub async fn load_for_update<R: Record>(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
) -> ActionResult<Loaded<R>> {
    load_in(ctx, db, id, least, true).await
}

async fn load_in<R: Record>(
    ctx: &Ctx,
    db: &impl ConnectionTrait,
    id: &str,
    least: Role,
    for_update: bool,
) -> ActionResult<Loaded<R>> {
    let not_found = || ApiError::not_found(R::KIND, id);
    let record = R::find(db, id).await?.ok_or_else(not_found)?;
    let project_id = record.project_id();
    let scope = if for_update {
        scope::project_for_update(ctx, db, project_id, Role::Viewer).await
    } else {
        scope::project(ctx, db, project_id, Role::Viewer).await
    };
    let scope = scope.map_err(|err| match err.api().map(|e| e.status) {
        Some(Status::ResourceNotFound) => not_found().into(),
        _ => err,
    })?;
    let target = Target {
        project_id: Some(project_id),
        kind: R::KIND,
        id,
    };
    scope.require(ctx, db, least, target).await?;
    Ok(Loaded { record, scope })
}

/// The scope of an action whose input `field` names a record of kind `R`:
/// the caller's role is checked in that record's project.
pub fn record<R: Record>(field: &'static str) -> Scope {
    Scope::Record {
        field,
        kind: R::KIND,
        project_of: |db, id| {
            Box::pin(async move {
                Ok(R::find(db, id).await?.map(|r| RecordPlace {
                    home: r.home(),
                    queue_key: r.queue_key(),
                }))
            })
        },
    }
}

/// Makes a table's model a [`Record`] whose project is its `project_id`
/// column: `project_record!(environment, "environment");` for the entity
/// module `environment`.
#[macro_export]
macro_rules! project_record {
    ($entity:ident, $kind:literal) => {
        impl $crate::Record for $entity::Model {
            const KIND: &'static str = $kind;

            async fn find(
                db: &impl ::sea_orm::ConnectionTrait,
                id: &str,
            ) -> Result<Option<Self>, ::sea_orm::DbErr> {
                $crate::find::by_id::<$entity::Entity>(db, id).await
            }

            fn project_id(&self) -> &str {
                &self.project_id
            }
        }
    };
}

//! Where an action's role is checked: in the caller's organization, or in
//! the project that one of its input fields names, directly or through a
//! record that belongs to a project.
//!
//! Declared at registration ([`crate::ActionSpec::scope`]), so the gateway
//! checks it before a job is recorded or a handler runs: a caller below the
//! role gets `Forbidden` at once, and a record it cannot see is
//! `ResourceNotFound`, never a 202.

use futures_util::future::BoxFuture;
use sea_orm::{DatabaseConnection, DbErr};

/// Finds where a record is, by the record's id.
pub type ProjectOf = for<'a> fn(
    &'a DatabaseConnection,
    &'a str,
) -> BoxFuture<'a, Result<Option<RecordPlace>, DbErr>>;

/// What a record belongs to, where a caller's role on it is weighed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Home {
    /// A project: the caller's role there.
    Project(String),
    /// Its organization as a whole, in no project (an invite to the
    /// organization): the caller's organization role.
    Organization(String),
}

/// Where a record is: what it belongs to, and the queue its activities run
/// in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordPlace {
    pub home: Home,
    /// The serialization key of the actions on it that are activities,
    /// when it is another record's (a backup's restores queue with its
    /// environment's operations); unset, the record's own `kind:id`.
    pub queue_key: Option<String>,
}

/// The scope an action's least role is checked in.
#[derive(Clone, Copy)]
pub enum Scope {
    /// The caller's organization role.
    Org,
    /// The caller's role in the project whose id is the input's `field`.
    Project { field: &'static str },
    /// The caller's role in the project of the `kind` record whose id is
    /// the input's `field`.
    Record {
        field: &'static str,
        kind: &'static str,
        project_of: ProjectOf,
    },
    /// The first of these (none itself a `OneOf`) whose field the input
    /// holds: a variable of an environment, or else of a project.
    OneOf(&'static [Scope]),
}

impl Scope {
    /// The project named by the input's top-level `field`.
    pub const fn project(field: &'static str) -> Scope {
        Scope::Project { field }
    }

    /// [`Scope::OneOf`] these scopes. Made once, at registration: the list
    /// lives as long as the process.
    pub fn one_of(scopes: &[Scope]) -> Scope {
        assert!(
            !scopes
                .iter()
                .any(|s| matches!(s, Scope::OneOf(_) | Scope::Org)),
            "a OneOf scope lists project and record scopes"
        );
        Scope::OneOf(Box::leak(scopes.to_vec().into_boxed_slice()))
    }

    /// The scope that applies to an input holding the fields `has` says it
    /// holds: this one, or for a [`Scope::OneOf`] the first whose field is
    /// there (`None` if none is).
    pub fn applying(self, has: impl Fn(&str) -> bool) -> Option<Scope> {
        match self {
            Scope::OneOf(scopes) => scopes.iter().copied().find(|s| s.field().is_some_and(&has)),
            scope => Some(scope),
        }
    }

    /// The input field the scope is read from, if any (for a `OneOf`, its
    /// first's).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Scope::Org => None,
            Scope::Project { field } | Scope::Record { field, .. } => Some(field),
            Scope::OneOf(scopes) => scopes.first().and_then(Scope::field),
        }
    }

    /// What the field names, for messages: `project`, `environment`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Scope::Org => "organization",
            Scope::Project { .. } => "project",
            Scope::Record { kind, .. } => kind,
            Scope::OneOf(scopes) => scopes.first().map_or("project", Scope::kind),
        }
    }
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Org => f.write_str("Org"),
            Scope::Project { field } => write!(f, "Project({field})"),
            Scope::Record { field, kind, .. } => write!(f, "Record({kind} at {field})"),
            Scope::OneOf(scopes) => f.debug_list().entries(scopes.iter()).finish(),
        }
    }
}

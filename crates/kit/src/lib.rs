//! The service kit: what actiongate's built-in services share, so that a
//! handler reads like the work it does.
//!
//! - [`authz`]: the one evaluator of who may call what;
//! - [`roles`]: custom roles as the evaluator reads them;
//! - [`scope`]: the projects a caller can see and its role in one;
//! - [`record`](mod@record): a record loaded only if the caller may see
//!   it, at a role, in its project, and the
//!   [`Scope`](actiongate_service::Scope) an action declares for it at
//!   registration;
//! - [`fields`]: field types checked while the input is decoded;
//! - [`find`]: lookups by primary key, their SQL built once;
//! - [`page`]: paging and ordering, the same for every list;
//! - [`write`](mod@write): the last steps of every update;
//! - [`tokens`]: bearer tokens as they are made, rotated and revoked (the
//!   gateway's first start and the command line make them here too).
//!
//! A service crate depends on this kit and on `actiongate-service`, never
//! on another service: what one service must do to another's records (a
//! project's contents deleted with it) goes through the gateway's hooks.

pub mod actor;
pub mod authz;
pub mod fields;
pub mod find;
pub mod page;
pub mod record;
pub mod roles;
pub mod scope;
pub mod tokens;
pub mod write;

pub use record::{load, load_for_update, record, Loaded, Record};
pub use scope::ProjectScope;

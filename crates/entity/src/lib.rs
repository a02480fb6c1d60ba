//! The tables of the actiongate database as sea-orm entities, one module a
//! table. The schema itself is created by `actiongate-migration`; keep the
//! two in step.
//!
//! Every service crate and the gateway read and write through these types,
//! so that SQLite and PostgreSQL are served by the same code.
//!
//! Times are stored as milliseconds since the Unix epoch (`i64`): they sort
//! and compare the same on every database, which SQLite's text timestamps
//! do not (`.1Z` sorts after `.12Z`). `actiongate_wire::Timestamp` converts.

pub mod audit_event;
pub mod auth_epoch;
pub mod environment;
pub mod environment_variable;
pub mod invite;
pub mod job;
pub mod org_member;
pub mod organization;
pub mod project;
pub mod project_icon;
pub mod project_member;
pub mod token;
pub mod user;

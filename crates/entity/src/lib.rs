//! The tables the gateway itself and every service rely on, as sea-orm
//! entities, one module a table: organizations, users, tokens, projects and
//! their members, jobs, the audit trail, the upstream signing keys. The schema is created by
//! `actiongate-migration`; keep the two in step.
//!
//! A table that only one service reads and writes (environments, invites,
//! icons, ...) is that service's own entity, in its crate.
//!
//! Times are stored as milliseconds since the Unix epoch (`i64`): they sort
//! and compare the same on every database, which SQLite's text timestamps
//! do not (`.1Z` sorts after `.12Z`). `actiongate_wire::Timestamp` converts.

pub mod activity_event;
pub mod activity_tally;
pub mod audit_event;
pub mod auth_epoch;
pub mod job;
pub mod org_member;
pub mod organization;
pub mod project;
pub mod project_member;
pub mod role;
pub mod signing_key;
pub mod team;
pub mod team_grant;
pub mod team_member;
pub mod token;
pub mod user;

//! The actiongate server.
//!
//! A request's life is a fixed sequence of phases, one module each under
//! [`pipeline`], in this order: resolve the route, authenticate, count it
//! against the rate limit, decode the body, authorize it in its project,
//! answer a replay, dispatch (run now, forward upstream, or park as a
//! job), write the envelope. Around the pipeline sit the route table built
//! from the registered services ([`routes`]), the token store
//! ([`tokens`]), the job table ([`jobs`]), the upstream services calls are
//! forwarded to ([`upstream`]), the HTTP server ([`server`]) and
//! first-start [`bootstrap`].

// These docs are for the people who work on the crate: its module docs
// link to private modules and items (`cargo doc --document-private-items`
// renders them).
#![allow(rustdoc::private_intra_doc_links)]

pub mod audit;
pub mod auth_epoch;
pub mod bootstrap;
pub mod config;
pub mod db;
mod fresh_read;
pub mod health;
pub mod jobs;
mod json_depth;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod multipart;
pub mod openapi;
pub mod pipeline;
pub mod rate_limits;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod sqlite;
mod sweeper;
pub mod telemetry;
pub mod tokens;
pub mod trace;
pub mod upstream;

mod gateway;
mod outcome;

pub use config::Config;
pub use gateway::{Gateway, Reloader, RunningGateway};
pub use outcome::Outcome;

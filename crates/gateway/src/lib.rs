//! The actiongate server.
//!
//! A request's life is a fixed sequence of phases, one module each under
//! [`pipeline`], in this order: resolve the route, authenticate, decode and
//! validate the body, dispatch (run now, or park as a job), write the
//! envelope. Around the pipeline sit the route table built from the
//! registered services ([`routes`]), the token store ([`tokens`]), the job
//! table ([`jobs`]), the upstream services calls are forwarded to
//! ([`upstream`]), the HTTP server ([`server`]) and first-start
//! [`bootstrap`].

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

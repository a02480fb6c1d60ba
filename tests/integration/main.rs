//! Integration tests: each starts a real gateway on a loopback port with a
//! real SQLite file in a temporary directory, and talks to it over HTTP.

mod access;
mod activities;
mod async_requests;
mod auth;
mod bad_input;
mod cli;
mod common;
mod console;
mod envelope;
mod environments;
mod examples;
mod health;
mod hostile;
mod isolation;
mod jobs;
mod lists;
mod metrics;
mod migrations;
mod nodes;
mod openapi;
mod outage;
mod postgres;
mod role_matrix;
mod routing;
mod rust_client;
mod sdk;
mod security;
mod serve;
mod tokens;
mod trace;
mod upgrade;
mod upstream;
mod upstream_server;
mod variables;
mod webhooks;

//! The deploy service's own tables, as sea-orm entities (the schema is in
//! `actiongate-migration`).

pub mod backup;
pub mod delivery;
pub mod delivery_attempt;
pub mod environment;
pub mod integration;
pub mod variable;

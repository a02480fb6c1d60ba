//! The console service's own tables, as sea-orm entities (the schema is in
//! `actiongate-migration`).

pub mod project_icon;

//! The access service's own tables, as sea-orm entities (invites' schema
//! is in `actiongate-migration`, the event stream's in `schema/`).

pub mod event;
pub mod event_tag;
pub mod event_tag_value;
pub mod invite;

//! The access service's own migrations, added to the core's by name (see
//! `actiongate-migration`). Its first tables (invites) were made by the
//! core's early migrations, before services owned their schema.

mod m20261127_000023_access_events;
mod m20261127_000025_access_org_invites;

use actiongate_service::Service;

/// Registers every migration of the service's, oldest first.
pub fn register(service: Service) -> Service {
    service
        .migration(m20261127_000023_access_events::Migration)
        .migration(m20261127_000025_access_org_invites::Migration)
}

//! The deploy service's own migrations, added to the core's by name (see
//! `actiongate-migration`). Its first tables were made by the core's
//! early migrations, before services owned their schema.

mod m20261127_000012_environment_settings;
mod m20261127_000013_backups;
mod m20261127_000014_variables;
mod m20261127_000016_integrations;
mod m20261127_000020_environment_list_indexes;
mod m20261127_000021_delivery_retention;

use actiongate_service::Service;

/// Registers every migration of the service's, oldest first.
pub fn register(service: Service) -> Service {
    service
        .migration(m20261127_000012_environment_settings::Migration)
        .migration(m20261127_000013_backups::Migration)
        .migration(m20261127_000014_variables::Migration)
        .migration(m20261127_000016_integrations::Migration)
        .migration(m20261127_000020_environment_list_indexes::Migration)
        .migration(m20261127_000021_delivery_retention::Migration)
}

//! The deploy service's settings: `[services.deploy]` in the gateway config.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a backup is kept, such as `30d`.
    #[serde(with = "humantime_serde")]
    pub backup_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backup_ttl: Duration::from_secs(30 * 24 * 60 * 60),
        }
    }
}

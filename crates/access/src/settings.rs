//! The access service's settings: `[services.access]` in the gateway config.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long an invite may be accepted, such as `7d` or `12h`.
    #[serde(with = "humantime_serde")]
    pub invite_ttl: Duration,
    /// How long a sent event is kept, such as `90d`.
    #[serde(with = "humantime_serde")]
    pub event_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            invite_ttl: Duration::from_secs(7 * 24 * 60 * 60),
            event_ttl: Duration::from_secs(90 * 24 * 60 * 60),
        }
    }
}

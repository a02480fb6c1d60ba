//! The deploy service's settings: `[services.deploy]` in the gateway config.

use std::time::Duration;

use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long a backup is kept, such as `30d`.
    #[serde(with = "humantime_serde")]
    pub backup_ttl: Duration,
    /// `[services.deploy.webhooks]`.
    pub webhooks: Webhooks,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            backup_ttl: Duration::from_secs(30 * 24 * 60 * 60),
            webhooks: Webhooks::default(),
        }
    }
}

/// How webhooks are delivered.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Webhooks {
    /// Whether a hook may point at a loopback, private or link-local
    /// address (checked at creation and at every delivery).
    pub allow_private: bool,
    /// One attempt, connection to answer.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How long a delivery is tried again before it is given up.
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
}

impl Default for Webhooks {
    fn default() -> Self {
        Webhooks {
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry_for: Duration::from_secs(24 * 60 * 60),
        }
    }
}

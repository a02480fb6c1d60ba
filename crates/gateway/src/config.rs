//! Gateway settings: `config/actiongate.toml`, then `ACTIONGATE_*`
//! environment variables, then command-line flags, each overriding the one
//! before. Every setting is documented in `config/actiongate.toml`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite file and `admin.token` live.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; empty means SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Connections in the database pool (on SQLite: for reads; writes use
    /// one more of their own).
    pub database_connections: u32,
    /// Scheme and authority used in poll `location` URLs, when the gateway
    /// sits behind a proxy; by default they come from the request.
    pub public_url: Option<String>,
    /// How long a synchronous call may run before it is answered with 202.
    #[serde(with = "humantime_serde")]
    pub response_threshold: Duration,
    /// Per-action overrides of `response_threshold`, keyed
    /// `service/version/resource/action`.
    pub action_thresholds: BTreeMap<String, humantime_serde::Serde<Duration>>,
    /// How long a finished asynchronous result can be fetched.
    #[serde(with = "humantime_serde")]
    pub result_ttl: Duration,
    /// How often expired results are removed.
    #[serde(with = "humantime_serde")]
    pub result_sweep_interval: Duration,
    /// How many fetches of one asynchronous request (polls while pending,
    /// and of its result) are answered before `PollLimitExceeded`.
    pub poll_limit: u32,
    /// How long an `Idempotency-Key` is remembered, per token.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// How long a node's claim on a running job lasts unless renewed; after
    /// a node dies, its jobs run elsewhere once this has passed.
    #[serde(with = "humantime_serde")]
    pub job_lease: Duration,
    /// Jobs one node runs at once; more wait queued.
    pub job_concurrency: usize,
    /// How often a node looks for queued jobs and lapsed leases without
    /// being woken.
    #[serde(with = "humantime_serde")]
    pub job_claim_interval: Duration,
    /// On SIGTERM: how long running requests and jobs get to finish before
    /// the rest are handed back to the queue.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: u64,
    /// How often the token cache checks the database for revocations.
    #[serde(with = "humantime_serde")]
    pub token_refresh: Duration,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter: `info`, `warn`, `actiongate_gateway=debug`, ...
    pub log_level: String,
    /// Settings of each service, by service name.
    pub services: BTreeMap<String, figment::value::Value>,
}

/// The top-level settings, as the environment may name them.
const SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_connections",
    "public_url",
    "response_threshold",
    "action_thresholds",
    "result_ttl",
    "result_sweep_interval",
    "poll_limit",
    "idempotency_ttl",
    "job_lease",
    "job_concurrency",
    "job_claim_interval",
    "shutdown_grace",
    "body_limit",
    "token_refresh",
    "log_format",
    "log_level",
    "services",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_connections: 4,
            public_url: None,
            response_threshold: Duration::from_secs(2),
            action_thresholds: BTreeMap::new(),
            result_ttl: Duration::from_secs(24 * 60 * 60),
            result_sweep_interval: Duration::from_secs(60),
            poll_limit: 1000,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            job_lease: Duration::from_secs(10),
            job_concurrency: 256,
            job_claim_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            body_limit: 1024 * 1024,
            token_refresh: Duration::from_millis(500),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            services: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The layered sources, before command-line flags: the file (if it
    /// exists), then the environment. `ACTIONGATE_SERVICES__CONSOLE__CSP`
    /// reaches a nested key. Unknown keys in the file are errors; other
    /// `ACTIONGATE_*` variables are not settings and are left alone.
    pub fn figment(file: &Path) -> Figment {
        let env = Env::prefixed("ACTIONGATE_").split("__").filter(|key| {
            let top = key.as_str().split('.').next().unwrap_or_default();
            SETTINGS.iter().any(|s| s.eq_ignore_ascii_case(top))
        });
        Figment::new().merge(Toml::file(file)).merge(env)
    }

    /// The database URL to use: the configured one, or SQLite under `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.is_empty() => url.clone(),
            _ => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("actiongate.db").display()
            ),
        }
    }

    /// The settings section of one service, or its defaults.
    pub fn service_settings<T: for<'de> Deserialize<'de> + Default>(
        &self,
        service: &str,
    ) -> Result<T, Box<figment::Error>> {
        match self.services.get(service) {
            Some(value) => value.deserialize().map_err(Box::new),
            None => Ok(T::default()),
        }
    }

    /// The threshold for one action: its override, else the gateway's.
    pub fn threshold_for(&self, service: &str, version: &str, path: &str) -> Duration {
        let key = format!("{service}/{version}/{path}");
        self.action_thresholds
            .get(&key)
            .map(|d| d.into_inner())
            .unwrap_or(self.response_threshold)
    }

    /// `ttl_mins` as the 202 reports it: whole minutes, rounded up.
    pub fn ttl_mins(&self) -> u64 {
        let millis = u64::try_from(self.result_ttl.as_millis()).unwrap_or(u64::MAX);
        millis.div_ceil(60_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_lists_every_field() {
        let config = Config {
            database_url: Some(String::new()),
            public_url: Some(String::new()),
            ..Config::default()
        };
        let value = serde_json::to_value(&config).unwrap();
        let mut fields: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut listed = SETTINGS.to_vec();
        fields.sort_unstable();
        listed.sort_unstable();
        assert_eq!(fields, listed);
    }

    #[test]
    // The closure's error type is figment's own.
    #[allow(clippy::result_large_err)]
    fn environment_overrides_known_settings_only() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("ACTIONGATE_BODY_LIMIT", "77");
            jail.set_env("ACTIONGATE_SERVICES__CONSOLE__CSP", "aws");
            jail.set_env("ACTIONGATE_SOMETHING_ELSE", "ignored");
            let config: Config = Config::figment(Path::new("missing.toml")).extract()?;
            assert_eq!(config.body_limit, 77);
            assert!(config.services.contains_key("console"));
            Ok(())
        });
    }

    #[test]
    fn shipped_config_file_parses_and_matches_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/actiongate.toml");
        let config: Config = Figment::new().merge(Toml::file(&file)).extract().unwrap();
        let defaults = Config::default();
        assert_eq!(config.listen, defaults.listen);
        assert_eq!(config.response_threshold, defaults.response_threshold);
        assert_eq!(config.result_ttl, defaults.result_ttl);
        assert_eq!(config.body_limit, defaults.body_limit);
    }
}

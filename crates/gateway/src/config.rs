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

use crate::upstream::config::UpstreamConfig;

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
    /// When a SQLite commit (a 202's job among them) is on disk: `full`
    /// syncs each commit, so it survives a power loss; `normal` leaves the
    /// newest commits to the OS, so they survive only the process dying.
    pub sqlite_synchronous: SqliteSync,
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
    /// How long a finished activity (and so its result) is kept.
    #[serde(with = "humantime_serde")]
    pub activity_ttl: Duration,
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
    /// On SIGTERM, before that: how long `/readyz` answers 503 while the
    /// gateway still serves, so load balancers stop sending to it first.
    #[serde(with = "humantime_serde")]
    pub drain_delay: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: u64,
    /// How often tokens' `last_used_at` is written (it is kept in memory
    /// in between, so a request never waits for that write).
    #[serde(with = "humantime_serde")]
    pub token_last_used_interval: Duration,
    /// Rate limits, per token and per client address.
    pub rate_limits: RateLimits,
    /// Limits on connections and requests, against slow or oversized ones.
    pub limits: TransportLimits,
    /// TLS; without a certificate the gateway speaks plain HTTP, which it
    /// does only on a loopback address unless `plain_http` says so.
    pub tls: Tls,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter: `info`, `warn`, `actiongate_gateway=debug`, ...
    pub log_level: String,
    /// Where to export spans over OTLP/HTTP (`http://collector:4318`);
    /// unset, spans are not exported (trace ids are still logged).
    pub otlp_endpoint: Option<String>,
    /// Whether Prometheus metrics are kept and served at `GET /metrics`.
    pub metrics: bool,
    /// An address of its own for `GET /metrics`, with no token (keep it
    /// where only the scraper reaches). Without it, `/metrics` is served on
    /// `listen` to an organization admin's token.
    pub metrics_listen: Option<SocketAddr>,
    /// The keyring file that seals sensitive values (see
    /// [`crate::secrets`]); unset, `secrets.key` in `data_dir`, made at
    /// first start.
    pub secrets_key_file: Option<PathBuf>,
    /// One key (base64 of 32 bytes) instead of a keyring file, meant to
    /// come from `ACTIONGATE_SECRETS_KEY`.
    pub secrets_key: Option<SecretText>,
    /// Settings of each service, by service name.
    pub services: BTreeMap<String, figment::value::Value>,
    /// HTTP services the gateway forwards to, by the service name callers
    /// use (see [`crate::upstream`]); reloaded on `SIGHUP`.
    pub upstreams: BTreeMap<String, UpstreamConfig>,
}

/// `sqlite_synchronous`: how durable a SQLite commit is when it returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// An fsync with each commit: what a 202 promised survives a power
    /// loss. The job writer groups commits, so it costs one per batch.
    #[default]
    Full,
    /// In the write-ahead log, synced at checkpoints: survives the process
    /// being killed, but an OS crash or power loss can drop the newest
    /// commits, 202s already sent among them.
    Normal,
}

impl SqliteSync {
    /// The value of `PRAGMA synchronous`, set on every connection that
    /// writes.
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSync::Full => "FULL",
            SqliteSync::Normal => "NORMAL",
        }
    }
}

/// The top-level settings, as the environment may name them.
const SETTINGS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "database_connections",
    "sqlite_synchronous",
    "public_url",
    "response_threshold",
    "action_thresholds",
    "result_ttl",
    "activity_ttl",
    "result_sweep_interval",
    "poll_limit",
    "idempotency_ttl",
    "job_lease",
    "job_concurrency",
    "job_claim_interval",
    "shutdown_grace",
    "drain_delay",
    "body_limit",
    "token_last_used_interval",
    "rate_limits",
    "limits",
    "tls",
    "log_format",
    "log_level",
    "metrics",
    "metrics_listen",
    "otlp_endpoint",
    "secrets_key_file",
    "secrets_key",
    "services",
    "upstreams",
];

/// A setting that is a secret: it never shows in `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// `[rate_limits]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Calls per token per service: `"1000/s"`, `"60/min"`, `"5000/h"`, or
    /// `"off"`.
    pub per_token: Rate,
    /// Per-action overrides of `per_token`, keyed
    /// `service/version/resource/action`; each counts on its own.
    pub actions: BTreeMap<String, Rate>,
    /// Failed authentications per client address; past it, the address
    /// gets `TooManyRequests` until the window lets it try again.
    pub failed_auth: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_token: Rate::per(1000, Duration::from_secs(1)),
            actions: BTreeMap::new(),
            failed_auth: Rate::per(20, Duration::from_secs(60)),
        }
    }
}

/// A number of calls per window, written `"<count>/<s|min|h>"`, or `"off"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate(pub Option<(u32, Duration)>);

impl Rate {
    pub const OFF: Rate = Rate(None);

    pub const fn per(count: u32, window: Duration) -> Rate {
        Rate(Some((count, window)))
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "off" {
            return Ok(Rate::OFF);
        }
        let bad = || {
            format!("{text:?} is not a rate: write \"<count>/s\", \"/min\" or \"/h\", or \"off\"")
        };
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let window = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Err(format!(
                "{text:?}: the count must be at least 1 (or the rate \"off\")"
            ));
        }
        Ok(Rate::per(count, window))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some((count, window)) => match window.as_secs() {
                3600 => write!(f, "{count}/h"),
                60 => write!(f, "{count}/min"),
                _ => write!(f, "{count}/s"),
            },
        }
    }
}

impl Serialize for Rate {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// `[limits]`: every limit has a default safe for a gateway facing the
/// internet.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportLimits {
    /// Deepest nesting of arrays and objects in a request body.
    pub json_depth: usize,
    /// Most bytes of a request's line and headers (HTTP/1.1 answers 431
    /// past it; HTTP/2 bounds the header list to it).
    pub header_size: usize,
    /// Most header fields in one request.
    pub max_headers: usize,
    /// How long a client has to send a request's headers (slowloris).
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    #[serde(with = "humantime_serde")]
    pub keep_alive_idle: Duration,
    /// Most connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a request may take from its headers to the end of its
    /// body; `RequestTimeout` past it.
    #[serde(with = "humantime_serde")]
    pub request_deadline: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            json_depth: 64,
            header_size: 16 * 1024,
            max_headers: 100,
            header_read_timeout: Duration::from_secs(10),
            keep_alive_idle: Duration::from_secs(60),
            max_connections: 10_000,
            request_deadline: Duration::from_secs(30),
        }
    }
}

/// `[tls]`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// PEM certificate chain; with `key`, the gateway speaks HTTPS only
    /// (HTTP/2 and HTTP/1.1 by ALPN).
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Speak plain HTTP on an address other than loopback (behind a proxy
    /// that terminates TLS).
    pub plain_http: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_connections: 4,
            sqlite_synchronous: SqliteSync::Full,
            public_url: None,
            response_threshold: Duration::from_secs(2),
            action_thresholds: BTreeMap::new(),
            result_ttl: Duration::from_secs(24 * 60 * 60),
            activity_ttl: Duration::from_secs(90 * 24 * 60 * 60),
            result_sweep_interval: Duration::from_secs(60),
            poll_limit: 1000,
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            job_lease: Duration::from_secs(10),
            job_concurrency: 256,
            job_claim_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(10),
            drain_delay: Duration::ZERO,
            body_limit: 1024 * 1024,
            token_last_used_interval: Duration::from_secs(10),
            rate_limits: RateLimits::default(),
            limits: TransportLimits::default(),
            tls: Tls::default(),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            otlp_endpoint: None,
            metrics: true,
            metrics_listen: None,
            secrets_key_file: None,
            secrets_key: None,
            services: BTreeMap::new(),
            upstreams: BTreeMap::new(),
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

    /// `https` when the gateway serves TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.cert.is_some() {
            "https"
        } else {
            "http"
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

    /// Refuses settings that cannot work together.
    pub fn check(&self) -> anyhow::Result<()> {
        match (&self.tls.cert, &self.tls.key) {
            (Some(_), Some(_)) => Ok(()),
            (Some(_), None) | (None, Some(_)) => {
                anyhow::bail!("tls.cert and tls.key go together: set both, or neither")
            }
            (None, None) if self.listen.ip().is_loopback() || self.tls.plain_http => Ok(()),
            (None, None) => anyhow::bail!(
                "listening on {} without TLS: set tls.cert and tls.key, or tls.plain_http = true if a proxy in front terminates TLS",
                self.listen
            ),
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

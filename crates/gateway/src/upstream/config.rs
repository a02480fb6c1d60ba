//! `[upstreams.<name>]`: the HTTP services the gateway forwards to, and
//! the checks that refuse a section that could not work, naming its key.

use std::collections::BTreeMap;
use std::time::Duration;

use actiongate_service::{Mode, Role};
use serde::{Deserialize, Serialize};

/// One upstream service: where it runs and how calls to it are made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URLs (`http://host:port`, optionally with a path prefix); calls
    /// go round robin to the healthy ones.
    pub targets: Vec<String>,
    /// Other names the service answers to (path prefix or `Host` label).
    pub aliases: Vec<String>,
    /// The least role for every action, unless the action says otherwise.
    pub role: Role,
    /// Past it, the caller gets a 202 and the call goes on as a job; the
    /// gateway's `response_threshold` when unset.
    #[serde(with = "humantime_serde")]
    pub response_threshold: Option<Duration>,
    /// One attempt, end to end; `ProviderTimeout` past it.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// More attempts, only for attempts that never reached a target.
    pub retries: u32,
    /// Consecutive connect errors or 5xx answers that take a target out...
    pub max_fails: u32,
    /// ...for this long; then one call tries it again.
    #[serde(with = "humantime_serde")]
    pub fail_timeout: Duration,
    /// Checked with a GET every `health_interval`; no active checks
    /// without it.
    pub health_path: Option<String>,
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// The largest answer body taken, in bytes; `ProviderError` past it.
    pub response_limit: u64,
    /// Whether each successful call is recorded in the audit trail (the
    /// gateway cannot tell a read from a change behind an upstream).
    pub audit: bool,
    /// Per-path overrides, keyed `version/resource/action`.
    pub actions: BTreeMap<String, ActionOverride>,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            targets: Vec::new(),
            aliases: Vec::new(),
            role: Role::Viewer,
            response_threshold: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(2),
            retries: 2,
            max_fails: 1,
            fail_timeout: Duration::from_secs(10),
            health_path: None,
            health_interval: Duration::from_secs(5),
            response_limit: 10 * 1024 * 1024,
            audit: true,
            actions: BTreeMap::new(),
        }
    }
}

/// `[upstreams.<name>.actions."<version>/<path>"]`: what differs for one
/// path.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionOverride {
    /// `async`: 202 at once, a worker makes the call. `sync` by default.
    pub mode: Option<ModeName>,
    pub role: Option<Role>,
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub response_threshold: Option<Duration>,
    /// `false` for a read, which need not be in the audit trail.
    pub audit: Option<bool>,
}

/// `mode` as the file spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModeName {
    Sync,
    Async,
}

impl From<ModeName> for Mode {
    fn from(mode: ModeName) -> Mode {
        match mode {
            ModeName::Sync => Mode::Sync,
            ModeName::Async => Mode::Async,
        }
    }
}

/// A section that cannot work, with the key that says so.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Checks every upstream: targets present and http(s) URLs, names and
/// aliases that are path segments and clash with no local service, the
/// gateway's own paths, or each other, and action keys of the form
/// `version/resource/action`.
pub fn check(
    upstreams: &BTreeMap<String, UpstreamConfig>,
    local_names: &[&str],
    reserved: &[&str],
) -> Result<(), ConfigError> {
    let mut taken: BTreeMap<&str, String> = BTreeMap::new();
    for (name, upstream) in upstreams {
        let at = |key: &str| format!("upstreams.{name}.{key}");
        let error = |key: String, problem: String| ConfigError { key, problem };
        let names = std::iter::once((name.as_str(), format!("upstreams.{name}")))
            .chain(upstream.aliases.iter().map(|a| (a.as_str(), at("aliases"))));
        for (label, key) in names {
            if !is_name(label) {
                return Err(error(
                    key,
                    format!(
                        "{label:?} is not a service name: use letters, digits, '-', '_' and '.'"
                    ),
                ));
            }
            if local_names.contains(&label) {
                return Err(error(
                    key,
                    format!("{label:?} is already the name of a built-in service"),
                ));
            }
            if reserved.contains(&label) {
                return Err(error(
                    key,
                    format!("{label:?} is a path the gateway answers itself"),
                ));
            }
            if let Some(other) = taken.insert(label, key.clone()) {
                return Err(error(key, format!("{label:?} is already named by {other}")));
            }
        }
        if upstream.targets.is_empty() {
            return Err(error(
                at("targets"),
                "at least one target is needed, such as \"http://127.0.0.1:9001\"".into(),
            ));
        }
        for target in &upstream.targets {
            if let Err(problem) = super::peer::TargetUrl::parse(target) {
                return Err(error(at("targets"), problem));
            }
        }
        if let Some(path) = &upstream.health_path {
            if !path.starts_with('/') {
                return Err(error(
                    at("health_path"),
                    format!("{path:?} must start with '/'"),
                ));
            }
        }
        let positive = [
            ("timeout", upstream.timeout),
            ("connect_timeout", upstream.connect_timeout),
            ("health_interval", upstream.health_interval),
        ];
        for (key, value) in positive {
            if value.is_zero() {
                return Err(error(at(key), "must be longer than 0s".into()));
            }
        }
        if upstream.max_fails == 0 {
            return Err(error(at("max_fails"), "must be at least 1".into()));
        }
        for (key, action) in &upstream.actions {
            if !is_action_key(key) {
                return Err(error(
                    at(&format!("actions.{key:?}")),
                    "an action is named \"<version>/<resource>/<action>\", such as \"v1/report/build\"".into(),
                ));
            }
            if action.timeout.is_some_and(|t| t.is_zero()) {
                return Err(error(
                    at(&format!("actions.{key:?}.timeout")),
                    "must be longer than 0s".into(),
                ));
            }
        }
    }
    Ok(())
}

fn is_name(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `version/resource/action`: at least two segments after the version,
/// none empty.
fn is_action_key(key: &str) -> bool {
    let segments: Vec<&str> = key.split('/').collect();
    segments.len() >= 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(upstream: UpstreamConfig) -> BTreeMap<String, UpstreamConfig> {
        BTreeMap::from([("billing".to_owned(), upstream)])
    }

    fn with_targets(targets: &[&str]) -> UpstreamConfig {
        UpstreamConfig {
            targets: targets.iter().map(|t| (*t).to_owned()).collect(),
            ..UpstreamConfig::default()
        }
    }

    #[test]
    fn problems_name_their_key() {
        let err = check(&one(with_targets(&[])), &[], &[]).unwrap_err();
        assert_eq!(err.key, "upstreams.billing.targets");
        let err = check(&one(with_targets(&["ftp://x"])), &[], &[]).unwrap_err();
        assert_eq!(err.key, "upstreams.billing.targets");
        let err = check(&one(with_targets(&["http://a:1"])), &["billing"], &[]).unwrap_err();
        assert_eq!(err.key, "upstreams.billing");
        let mut aliased = with_targets(&["http://a:1"]);
        aliased.aliases = vec!["status".into()];
        let err = check(&one(aliased), &[], &["status"]).unwrap_err();
        assert_eq!(err.key, "upstreams.billing.aliases");
        let mut keyed = with_targets(&["http://a:1"]);
        keyed
            .actions
            .insert("build".into(), ActionOverride::default());
        let err = check(&one(keyed), &[], &[]).unwrap_err();
        assert_eq!(err.key, "upstreams.billing.actions.\"build\"");
        assert!(check(&one(with_targets(&["http://a:1", "https://b/x"])), &[], &[]).is_ok());
    }

    #[test]
    fn two_upstreams_may_not_share_a_name() {
        let mut upstreams = one(with_targets(&["http://a:1"]));
        let mut other = with_targets(&["http://b:1"]);
        other.aliases = vec!["billing".into()];
        upstreams.insert("invoices".into(), other);
        let err = check(&upstreams, &[], &[]).unwrap_err();
        assert_eq!(err.key, "upstreams.invoices.aliases");
    }
}

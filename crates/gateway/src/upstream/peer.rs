//! Choosing the upstream peer, a phase of its own as in Pingora's
//! `upstream_peer`: round robin among an upstream's healthy targets, and
//! what makes a target unhealthy.
//!
//! - Passive: `max_fails` consecutive failures (connect errors, 5xx
//!   answers) take a target out for `fail_timeout`; then one call at a
//!   time tries it again, and its success brings it back.
//! - Active: with `health_path`, a target that fails a check is out until
//!   it passes one ([`super::health`]).
//!
//! Every change of a target's state is logged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actiongate_wire::Timestamp;
use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;
use serde::Serialize;

/// A target's base URL: scheme, authority and an optional path prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetUrl {
    pub scheme: Scheme,
    pub authority: Authority,
    /// Without a trailing `/`; empty for none.
    pub prefix: String,
}

impl TargetUrl {
    pub fn parse(text: &str) -> Result<TargetUrl, String> {
        let bad = |why: &str| format!("{text:?} is not a target URL: {why}");
        let uri: Uri = text
            .parse()
            .map_err(|_| bad("write \"http://host:port\""))?;
        let scheme = uri.scheme().cloned().ok_or_else(|| bad("no scheme"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(bad("only http and https are forwarded to"));
        }
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials do not belong in a target"));
        }
        if uri.query().is_some() {
            return Err(bad("a target has no query"));
        }
        Ok(TargetUrl {
            scheme,
            authority,
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The URI of `path` (which starts with `/`) at this target.
    pub fn join(&self, path: &str) -> Result<Uri, http::Error> {
        let path_and_query: PathAndQuery = format!("{}{path}", self.prefix).parse()?;
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(path_and_query)
            .build()
    }
}

impl std::fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

/// One target and what is known of its health.
pub struct Peer {
    pub url: TargetUrl,
    state: Mutex<PeerState>,
}

#[derive(Default)]
struct PeerState {
    /// Consecutive failures of calls.
    fails: u32,
    /// Taken out by failed calls until then.
    out_until: Option<Instant>,
    /// Since when one call has been trying it again after `out_until`.
    probe_since: Option<Instant>,
    /// Failed its last active check.
    check_failed: bool,
    last_error: Option<(Timestamp, String)>,
}

/// A target's health as `upstream/status` reports it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PeerReport {
    pub url: String,
    pub healthy: bool,
    /// Consecutive failed calls.
    pub fails: u32,
    /// Why it is out: `"failures"` or `"health check"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_because: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<Timestamp>,
}

/// An upstream's targets, in the order configured.
pub struct Peers {
    upstream: String,
    peers: Vec<Peer>,
    next: AtomicUsize,
    max_fails: u32,
    fail_timeout: Duration,
}

impl Peers {
    pub fn new(
        upstream: &str,
        targets: Vec<TargetUrl>,
        max_fails: u32,
        fail_timeout: Duration,
    ) -> Peers {
        Peers {
            upstream: upstream.to_owned(),
            peers: targets
                .into_iter()
                .map(|url| Peer {
                    url,
                    state: Mutex::default(),
                })
                .collect(),
            next: AtomicUsize::new(0),
            max_fails: max_fails.max(1),
            fail_timeout,
        }
    }

    pub fn get(&self, index: usize) -> &Peer {
        &self.peers[index]
    }

    pub fn len(&self) -> usize {
        self.peers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The next target in turn that may take a call, skipping those
    /// already `tried` by this call.
    pub fn choose(&self, tried: &[usize]) -> Option<usize> {
        let count = self.peers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        (0..count)
            .map(|offset| (start + offset) % count)
            .filter(|index| !tried.contains(index))
            .find(|&index| self.take(index, now))
    }

    /// Whether target `index` takes a call now; the first call after its
    /// `fail_timeout` becomes its probe.
    fn take(&self, index: usize, now: Instant) -> bool {
        let mut state = self.peers[index].state.lock().expect("peer state");
        if state.check_failed {
            return false;
        }
        match state.out_until {
            None => true,
            Some(until) if now < until => false,
            Some(_) => {
                // One probe at a time; one that never reported back (its
                // call was cancelled) is given up after a fail_timeout.
                let probing = state
                    .probe_since
                    .is_some_and(|since| now.duration_since(since) < self.fail_timeout);
                if probing {
                    return false;
                }
                state.probe_since = Some(now);
                true
            }
        }
    }

    /// A call reached target `index` and got a sound answer.
    pub fn succeeded(&self, index: usize) {
        let mut state = self.peers[index].state.lock().expect("peer state");
        state.fails = 0;
        state.probe_since = None;
        if state.out_until.take().is_some() {
            tracing::info!(upstream = self.upstream, target = %self.peers[index].url, "upstream target back in service");
        }
    }

    /// A call to target `index` failed to connect, or got a 5xx.
    pub fn failed(&self, index: usize, error: &str) {
        let peer = &self.peers[index];
        let mut state = peer.state.lock().expect("peer state");
        state.fails = state.fails.saturating_add(1);
        state.last_error = Some((Timestamp::now(), error.to_owned()));
        let probe_failed = state.probe_since.take().is_some();
        if probe_failed || (state.out_until.is_none() && state.fails >= self.max_fails) {
            state.out_until = Some(Instant::now() + self.fail_timeout);
            if !probe_failed {
                tracing::warn!(
                    upstream = self.upstream,
                    target = %peer.url,
                    fails = state.fails,
                    error,
                    out_for = ?self.fail_timeout,
                    "upstream target taken out of service"
                );
            }
        }
    }

    /// The result of an active health check of target `index`.
    pub fn checked(&self, index: usize, result: Result<(), String>) {
        let peer = &self.peers[index];
        let mut state = peer.state.lock().expect("peer state");
        match result {
            Ok(()) => {
                if state.check_failed {
                    tracing::info!(upstream = self.upstream, target = %peer.url, "upstream target passed its health check");
                }
                state.check_failed = false;
            }
            Err(error) => {
                if !state.check_failed {
                    tracing::warn!(upstream = self.upstream, target = %peer.url, error, "upstream target failed its health check");
                }
                state.check_failed = true;
                state.last_error = Some((Timestamp::now(), error));
            }
        }
    }

    pub fn report(&self) -> Vec<PeerReport> {
        let now = Instant::now();
        self.peers
            .iter()
            .map(|peer| {
                let state = peer.state.lock().expect("peer state");
                let out_because = if state.check_failed {
                    Some("health check")
                } else if state.out_until.is_some_and(|until| now < until) {
                    Some("failures")
                } else {
                    None
                };
                PeerReport {
                    url: peer.url.to_string(),
                    healthy: out_because.is_none(),
                    fails: state.fails,
                    out_because,
                    last_error: state.last_error.as_ref().map(|(_, e)| e.clone()),
                    last_error_at: state.last_error.as_ref().map(|(at, _)| *at),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peers(count: usize, max_fails: u32) -> Peers {
        let targets = (0..count)
            .map(|i| TargetUrl::parse(&format!("http://127.0.0.1:{}", 9000 + i)).unwrap())
            .collect();
        Peers::new("billing", targets, max_fails, Duration::from_millis(50))
    }

    #[test]
    fn targets_take_turns() {
        let peers = peers(3, 1);
        let chosen: Vec<_> = (0..6).map(|_| peers.choose(&[]).unwrap()).collect();
        assert_eq!(chosen, [0, 1, 2, 0, 1, 2]);
        assert_eq!(peers.choose(&[0, 1, 2]), None);
    }

    #[test]
    fn failures_take_a_target_out_then_one_call_tries_it() {
        let peers = peers(2, 2);
        peers.failed(0, "refused");
        assert!(peers.report()[0].healthy, "one failure of two allowed");
        peers.failed(0, "refused");
        assert!(!peers.report()[0].healthy);
        assert_eq!(peers.choose(&[]), Some(1));
        assert_eq!(peers.choose(&[]), Some(1));
        std::thread::sleep(Duration::from_millis(60));
        let now = Instant::now();
        assert!(peers.take(0, now), "the probe");
        assert!(!peers.take(0, now), "one probe at a time");
        peers.succeeded(0);
        assert!(peers.report()[0].healthy);
        assert!(peers.take(0, Instant::now()));
    }

    #[test]
    fn a_failed_check_keeps_a_target_out_until_it_passes() {
        let peers = peers(2, 1);
        peers.checked(1, Err("503".into()));
        assert_eq!(peers.report()[1].out_because, Some("health check"));
        assert_eq!(peers.choose(&[0]), None);
        peers.checked(1, Ok(()));
        assert_eq!(peers.choose(&[0]), Some(1));
    }

    #[test]
    fn target_urls_keep_their_prefix() {
        let url = TargetUrl::parse("https://billing.internal:8443/api/").unwrap();
        assert_eq!(
            url.join("/v1/invoice/list").unwrap().to_string(),
            "https://billing.internal:8443/api/v1/invoice/list"
        );
        assert!(TargetUrl::parse("billing:9000").is_err());
        assert!(TargetUrl::parse("ftp://billing").is_err());
        assert!(TargetUrl::parse("http://user:pw@billing").is_err());
    }
}

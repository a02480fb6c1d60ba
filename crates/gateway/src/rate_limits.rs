//! Rate limits (governor's GCRA): calls per token per service, with
//! per-action overrides, and failed authentications per client address.
//!
//! Each policy is a keyed limiter whose burst is the policy's count and
//! whose cells come back one per `window / count`. The state of the policy
//! that decided a call goes out in the `RateLimit-Policy` and `RateLimit`
//! headers (draft-ietf-httpapi-ratelimit-headers), and a denied call gets
//! `TooManyRequests` with `Retry-After`.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actiongate_wire::{ApiError, Status};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::config::{Rate, RateLimits as Settings};
use crate::routes::RouteTable;
use crate::upstream::table::UpstreamTable;

type Limiter<K> =
    RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// One policy: its name on the wire, its rate, and its counters.
struct Policy<K: Hash + Eq + Clone> {
    name: &'static str,
    count: u32,
    window: Duration,
    limiter: Limiter<K>,
}

/// Where a call stands against the policy that applied to it, for the
/// response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitState {
    pub policy: &'static str,
    pub count: u32,
    pub window_secs: u64,
    pub remaining: u32,
    /// Seconds until the quota is whole again (or, when denied, until the
    /// next call is let through).
    pub reset_secs: u64,
    pub denied: bool,
}

impl<K: Hash + Eq + Clone> Policy<K> {
    fn new(name: &'static str, rate: Rate) -> Option<Self> {
        let (count, window) = rate.0?;
        let burst = NonZeroU32::new(count)?;
        let quota = Quota::with_period(window / count)?.allow_burst(burst);
        Some(Policy {
            name,
            count,
            window,
            limiter: RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>(),
        })
    }

    fn check(&self, key: &K) -> LimitState {
        let state = |remaining: u32, reset: Duration, denied| LimitState {
            policy: self.name,
            count: self.count,
            window_secs: self.window.as_secs().max(1),
            remaining,
            reset_secs: ceil_secs(reset),
            denied,
        };
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let used = self.count.saturating_sub(remaining);
                state(remaining, self.window / self.count * used, false)
            }
            Err(not_until) => state(
                0,
                not_until.wait_time_from(DefaultClock::default().now()),
                true,
            ),
        }
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    duration.as_millis().div_ceil(1000) as u64
}

/// Every policy of the gateway.
pub struct RateLimits {
    /// The default policy, one per service (a token's calls to one service
    /// share a budget), keyed by token id.
    per_service: HashMap<&'static str, Policy<String>>,
    /// The same for upstream services, made at their first call (a reload
    /// may add them).
    per_upstream: RwLock<HashMap<&'static str, Arc<Policy<String>>>>,
    per_token: Rate,
    /// Overrides, by (service, version, action path); `None`: unlimited.
    per_action: HashMap<(&'static str, &'static str, &'static str), Option<Policy<String>>>,
    failed_auth: Option<Policy<IpAddr>>,
    /// Addresses that used up their failed authentications, until when.
    blocked: RwLock<HashMap<IpAddr, Instant>>,
    any_blocked: AtomicBool,
}

impl RateLimits {
    /// The policies of `settings`; an override naming no action (of a
    /// local service, or one listed under an upstream's `actions`) is an
    /// error, so a typo does not leave an action unlimited.
    pub fn new(
        settings: &Settings,
        routes: &RouteTable,
        upstreams: &UpstreamTable,
    ) -> anyhow::Result<Self> {
        let mut per_action = HashMap::new();
        for (key, rate) in &settings.actions {
            let action = routes
                .find_action(key)
                .or_else(|| upstreams.find_action(key))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "rate_limits.actions: no action {key:?} (write service/version/resource/action)"
                    )
                })?;
            per_action.insert(action, Policy::new("action", *rate));
        }
        let per_service = routes
            .service_names()
            .filter_map(|name| Some((name, Policy::new("token", settings.per_token)?)))
            .collect();
        Ok(RateLimits {
            per_service,
            per_upstream: RwLock::default(),
            per_token: settings.per_token,
            per_action,
            failed_auth: Policy::new("failed-auth", settings.failed_auth),
            blocked: RwLock::new(HashMap::new()),
            any_blocked: AtomicBool::new(false),
        })
    }

    /// Counts a call by `token_id` to an action; `None` when no limit
    /// applies to it.
    pub fn check_call(
        &self,
        token_id: &String,
        service: &'static str,
        version: &'static str,
        path: &'static str,
    ) -> Option<LimitState> {
        match self.per_action.get(&(service, version, path)) {
            Some(overridden) => Some(overridden.as_ref()?.check(token_id)),
            None => self.check_service(token_id, service),
        }
    }

    /// An upstream service's per-token policy, made at its first use.
    fn upstream_policy(&self, service: &str) -> Option<Arc<Policy<String>>> {
        if let Some(policy) = self
            .per_upstream
            .read()
            .expect("upstream policies")
            .get(service)
        {
            return Some(policy.clone());
        }
        let made = Arc::new(Policy::new("token", self.per_token)?);
        let mut policies = self.per_upstream.write().expect("upstream policies");
        let name = crate::upstream::table::intern(service);
        Some(policies.entry(name).or_insert(made).clone())
    }

    /// Counts a fetch or cancel of a recorded request against the token's
    /// budget for the service that request called.
    pub fn check_service(&self, token_id: &String, service: &str) -> Option<LimitState> {
        match self.per_service.get(service) {
            Some(policy) => Some(policy.check(token_id)),
            None => Some(self.upstream_policy(service)?.check(token_id)),
        }
    }

    /// Counts a failed authentication from `address`; once its budget is
    /// spent, the address is turned away (see [`Self::blocked`]).
    pub fn failed_auth(&self, address: IpAddr) -> Option<LimitState> {
        let state = self.failed_auth.as_ref()?.check(&address);
        if state.denied {
            let until = Instant::now() + Duration::from_secs(state.reset_secs);
            self.blocked
                .write()
                .expect("blocked addresses")
                .insert(address, until);
            self.any_blocked.store(true, Ordering::Relaxed);
        }
        Some(state)
    }

    /// Whether `address` has used up its failed authentications. Such an
    /// address is answered before its token is looked at, so that guesses
    /// stop being tested at all, right or wrong.
    pub fn blocked(&self, address: IpAddr) -> Option<LimitState> {
        if !self.any_blocked.load(Ordering::Relaxed) {
            return None;
        }
        let policy = self.failed_auth.as_ref()?;
        let until = *self
            .blocked
            .read()
            .expect("blocked addresses")
            .get(&address)?;
        let left = until.checked_duration_since(Instant::now())?;
        Some(LimitState {
            policy: policy.name,
            count: policy.count,
            window_secs: policy.window.as_secs().max(1),
            remaining: 0,
            reset_secs: ceil_secs(left).max(1),
            denied: true,
        })
    }

    /// Forgets counters that are whole again and blocks that ended, so
    /// memory follows the callers seen lately, not all callers ever.
    pub fn shrink(&self) {
        for policy in self
            .per_service
            .values()
            .chain(self.per_action.values().flatten())
        {
            policy.limiter.retain_recent();
        }
        for policy in self
            .per_upstream
            .read()
            .expect("upstream policies")
            .values()
        {
            policy.limiter.retain_recent();
        }
        if let Some(policy) = &self.failed_auth {
            policy.limiter.retain_recent();
        }
        let now = Instant::now();
        let mut blocked = self.blocked.write().expect("blocked addresses");
        blocked.retain(|_, until| *until > now);
        self.any_blocked
            .store(!blocked.is_empty(), Ordering::Relaxed);
    }

    /// Runs [`Self::shrink`] every `every`.
    pub fn spawn_shrinker(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let limits = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                match limits.upgrade() {
                    Some(limits) => limits.shrink(),
                    None => return,
                }
            }
        })
    }
}

/// `TooManyRequests` for a denied call.
pub fn too_many(state: &LimitState) -> ApiError {
    ApiError::new(
        Status::TooManyRequests,
        format!(
            "Rate limit of {} calls per {} s ({} policy) reached; retry in {} s",
            state.count, state.window_secs, state.policy, state.reset_secs
        ),
    )
}

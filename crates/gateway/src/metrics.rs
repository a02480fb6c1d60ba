//! Prometheus metrics: which series there are, the handles that count
//! them, and their rendering for `GET /metrics`.
//!
//! Every label value comes from the route table or a fixed list, never
//! from the request: a path that names no route counts under `unknown`,
//! so no caller can add series. Handles are registered once (a route's at
//! start, a status's at its first use), so counting a request is an
//! atomic add and a histogram sample, not a registry lookup.
//!
//! The recorder belongs to the gateway, not to the process (no global
//! `metrics` recorder is installed), so gateways sharing a process, as in
//! tests, count apart.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actiongate_wire::Status;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::jobs::{CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED};
use crate::sqlite::Commits;

/// The job states `actiongate_jobs{state}` reports.
pub const JOB_STATES: [&str; 5] = [QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED];

/// The label value of whatever the route table does not name.
pub const UNKNOWN: &str = "unknown";

/// Histogram buckets, in seconds: from a cached read to a slow job.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// Each series' name, unit and help text.
const DESCRIPTIONS: [(&str, Kind, Unit, &str); 14] = [
    (
        REQUESTS,
        Kind::Counter,
        Unit::Count,
        "Requests answered, by route and envelope status.",
    ),
    (
        REQUEST_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time from a request's arrival to its answer (202 for a request that became a job).",
    ),
    (
        JOBS,
        Kind::Gauge,
        Unit::Count,
        "Jobs in the job table, by state (read at scrape time).",
    ),
    (
        JOB_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Time a job's run took on this node, from its start to its recorded outcome.",
    ),
    (
        QUEUE_OLDEST,
        Kind::Gauge,
        Unit::Seconds,
        "Age of the oldest queued job, 0 when none waits (read at scrape time).",
    ),
    (
        RATE_LIMITED,
        Kind::Counter,
        Unit::Count,
        "Calls refused by a rate limit, by service.",
    ),
    (
        AUTH_FAILURES,
        Kind::Counter,
        Unit::Count,
        "Requests whose credentials were refused.",
    ),
    (
        POOL,
        Kind::Gauge,
        Unit::Count,
        "Database pool connections, idle or in use (read at scrape time).",
    ),
    (
        LOG_DROPPED,
        Kind::Counter,
        Unit::Count,
        "Log lines dropped because the log output was not taking them.",
    ),
    (
        UNINDEXED_READS,
        Kind::Counter,
        Unit::Count,
        "SQLite reads whose plan lacked an index: sorted (rows sorted in a temporary b-tree) or scanned (a whole table walked).",
    ),
    (
        CONNECTIONS,
        Kind::Gauge,
        Unit::Count,
        "Client connections open, by state: active (served by hyper) or parked (idle, holding only the socket until the next request's first bytes).",
    ),
    (
        COMMITS,
        Kind::Counter,
        Unit::Count,
        "SQLite transactions committed on the write connection (the job writer's and handlers' writes); each is one wait for the disk.",
    ),
    (
        COMMITTED_WRITES,
        Kind::Counter,
        Unit::Count,
        "Writes (job-writer batches, handlers' transactions) those commits made durable; per commit, the writes that shared its wait for the disk.",
    ),
    (
        LONG_READS,
        Kind::Counter,
        Unit::Count,
        "SQLite reads run with the runtime worker handed over to other requests, their statement's last run having been long.",
    ),
];

const REQUESTS: &str = "actiongate_requests_total";
const REQUEST_DURATION: &str = "actiongate_request_duration_seconds";
const JOBS: &str = "actiongate_jobs";
const JOB_DURATION: &str = "actiongate_job_duration_seconds";
const QUEUE_OLDEST: &str = "actiongate_job_queue_oldest_seconds";
const RATE_LIMITED: &str = "actiongate_rate_limited_total";
const AUTH_FAILURES: &str = "actiongate_auth_failures_total";
const POOL: &str = "actiongate_db_pool_connections";
const LOG_DROPPED: &str = "actiongate_log_lines_dropped_total";
const UNINDEXED_READS: &str = "actiongate_sqlite_unindexed_reads_total";
const LONG_READS: &str = "actiongate_sqlite_long_reads_total";
const COMMITS: &str = "actiongate_sqlite_commits_total";
const COMMITTED_WRITES: &str = "actiongate_sqlite_committed_writes_total";
const CONNECTIONS: &str = "actiongate_connections";

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The recorder, or none when metrics are off (every handle is then a
/// no-op).
#[derive(Clone)]
struct Registry(Option<Arc<PrometheusRecorder>>);

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl Registry {
    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        match &self.0 {
            Some(recorder) => recorder.register_counter(&Key::from_parts(name, labels), &METADATA),
            None => Counter::noop(),
        }
    }

    fn gauge(&self, name: &'static str, labels: Vec<Label>) -> Gauge {
        match &self.0 {
            Some(recorder) => recorder.register_gauge(&Key::from_parts(name, labels), &METADATA),
            None => Gauge::noop(),
        }
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        match &self.0 {
            Some(recorder) => {
                recorder.register_histogram(&Key::from_parts(name, labels), &METADATA)
            }
            None => Histogram::noop(),
        }
    }
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    handle: Option<PrometheusHandle>,
    pub auth_failures: Counter,
    log_dropped: Counter,
    jobs: [Gauge; JOB_STATES.len()],
    queue_oldest: Gauge,
    pool_idle: Gauge,
    pool_in_use: Gauge,
    unindexed_sorted: Counter,
    unindexed_scanned: Counter,
    long_reads: Counter,
    commits: Counter,
    committed_writes: Counter,
    connections: ConnectionGauges,
    /// The gateway's own endpoints, by the name they log under.
    endpoints: Vec<(&'static str, RouteMetrics)>,
    /// Requests that matched no route.
    unrouted: RouteMetrics,
}

/// The gateway's own endpoints, as they count.
const ENDPOINTS: [&str; 10] = [
    "healthz",
    "readyz",
    "version",
    "status",
    "metrics",
    "openapi.json",
    "request",
    "request/cancel",
    "upstream/status",
    "jwks",
];

impl Metrics {
    /// Counting into a Prometheus recorder, or (`enabled` false) not at all.
    pub fn new(enabled: bool) -> Self {
        let (registry, handle) = if enabled {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            for (name, kind, unit, help) in DESCRIPTIONS {
                let (name, help) = (KeyName::from_const_str(name), help.into());
                match kind {
                    Kind::Counter => recorder.describe_counter(name, Some(unit), help),
                    Kind::Gauge => recorder.describe_gauge(name, Some(unit), help),
                    Kind::Histogram => recorder.describe_histogram(name, Some(unit), help),
                }
            }
            let handle = recorder.handle();
            (Registry(Some(Arc::new(recorder))), Some(handle))
        } else {
            (Registry(None), None)
        };
        let state = |state: &'static str| vec![Label::from_static_parts("state", state)];
        Metrics {
            auth_failures: registry.counter(AUTH_FAILURES, vec![]),
            log_dropped: registry.counter(LOG_DROPPED, vec![]),
            unindexed_sorted: registry.counter(
                UNINDEXED_READS,
                vec![Label::from_static_parts("plan", "sorted")],
            ),
            unindexed_scanned: registry.counter(
                UNINDEXED_READS,
                vec![Label::from_static_parts("plan", "scanned")],
            ),
            long_reads: registry.counter(LONG_READS, vec![]),
            commits: registry.counter(COMMITS, vec![]),
            committed_writes: registry.counter(COMMITTED_WRITES, vec![]),
            jobs: JOB_STATES.map(|name| registry.gauge(JOBS, state(name))),
            queue_oldest: registry.gauge(QUEUE_OLDEST, vec![]),
            pool_idle: registry.gauge(POOL, state("idle")),
            pool_in_use: registry.gauge(POOL, state("in_use")),
            connections: ConnectionGauges {
                active: registry.gauge(CONNECTIONS, state("active")),
                parked: registry.gauge(CONNECTIONS, state("parked")),
            },
            endpoints: ENDPOINTS
                .iter()
                .map(|&name| (name, RouteMetrics::new(&registry, "gateway", "", name)))
                .collect(),
            unrouted: RouteMetrics::new(&registry, UNKNOWN, UNKNOWN, UNKNOWN),
            registry,
            handle,
        }
    }

    pub fn enabled(&self) -> bool {
        self.handle.is_some()
    }

    /// The gauges of the client connections' states.
    pub fn connection_gauges(&self) -> ConnectionGauges {
        self.connections.clone()
    }

    /// The handles of one action of the route table.
    pub fn route(
        &self,
        service: &'static str,
        version: &'static str,
        action: &'static str,
    ) -> RouteMetrics {
        RouteMetrics::new(&self.registry, service, version, action)
    }

    /// The count of one service's calls refused by a rate limit.
    pub fn rate_limited(&self, service: &'static str) -> Counter {
        self.registry.counter(
            RATE_LIMITED,
            vec![Label::from_static_parts("service", service)],
        )
    }

    /// The handles a request counts under when the route table gave it
    /// none: one of the gateway's endpoints by its name, else `unknown`.
    pub fn endpoint(&self, name: &str) -> &RouteMetrics {
        self.endpoints
            .iter()
            .find(|(endpoint, _)| *endpoint == name)
            .map_or(&self.unrouted, |(_, metrics)| metrics)
    }

    /// The figures read at scrape time rather than counted as they happen.
    pub fn set_scraped(&self, scraped: &Scraped) {
        if let Some(jobs) = scraped.jobs {
            for (gauge, count) in self.jobs.iter().zip(jobs) {
                gauge.set(count as f64);
            }
        }
        if let Some(oldest) = scraped.queue_oldest {
            self.queue_oldest.set(oldest.as_secs_f64());
        }
        self.pool_idle.set(scraped.pool_idle as f64);
        self.pool_in_use.set(scraped.pool_in_use as f64);
        self.log_dropped.absolute(scraped.log_dropped);
        if let Some((sorted, scanned)) = scraped.unindexed_reads {
            self.unindexed_sorted.absolute(sorted);
            self.unindexed_scanned.absolute(scanned);
        }
        if let Some(long) = scraped.long_reads {
            self.long_reads.absolute(long);
        }
        if let Some(commits) = scraped.commits {
            self.commits.absolute(commits.commits);
            self.committed_writes.absolute(commits.writes);
        }
    }

    /// The exposition text, or `None` when metrics are off.
    pub fn render(&self) -> Option<String> {
        self.handle.as_ref().map(PrometheusHandle::render)
    }

    /// Folds recorded histogram samples into their buckets, so they do not
    /// pile up between scrapes; run it every few seconds.
    pub fn run_upkeep(&self) {
        if let Some(handle) = &self.handle {
            handle.run_upkeep();
        }
    }
}

/// What a scrape reads from the database and the process.
#[derive(Debug, Default)]
pub struct Scraped {
    /// Jobs in each of [`JOB_STATES`], in that order; `None` when the
    /// table could not be read.
    pub jobs: Option<[u64; JOB_STATES.len()]>,
    pub queue_oldest: Option<Duration>,
    pub pool_idle: u64,
    pub pool_in_use: u64,
    pub log_dropped: u64,
    /// Reads that sorted and reads that scanned, on SQLite.
    pub unindexed_reads: Option<(u64, u64)>,
    /// SQLite reads run off the runtime's worker.
    pub long_reads: Option<u64>,
    /// SQLite's commits on the write connection.
    pub commits: Option<Commits>,
}

/// The series of one route (an action, or one of the gateway's
/// endpoints).
pub struct RouteMetrics {
    registry: Registry,
    labels: [Label; 3],
    /// Per status, registered at its first use: most routes only ever
    /// answer a few.
    requests: [OnceLock<Counter>; Status::ALL.len()],
    duration: Histogram,
    job_duration: Histogram,
}

impl RouteMetrics {
    fn new(
        registry: &Registry,
        service: &'static str,
        version: &'static str,
        action: &'static str,
    ) -> Self {
        let labels = [
            Label::from_static_parts("service", service),
            Label::from_static_parts("version", version),
            Label::from_static_parts("action", action),
        ];
        RouteMetrics {
            registry: registry.clone(),
            duration: registry.histogram(REQUEST_DURATION, labels.to_vec()),
            job_duration: registry
                .histogram(JOB_DURATION, vec![labels[0].clone(), labels[2].clone()]),
            requests: std::array::from_fn(|_| OnceLock::new()),
            labels,
        }
    }

    /// A request on this route was answered with `status` after `elapsed`.
    pub fn answered(&self, status: Status, elapsed: Duration) {
        self.requests[status as usize]
            .get_or_init(|| {
                let mut labels = self.labels.to_vec();
                labels.push(Label::from_static_parts("status", status.as_str()));
                self.registry.counter(REQUESTS, labels)
            })
            .increment(1);
        self.duration.record(elapsed.as_secs_f64());
    }

    /// A job of this route ran for `elapsed` on this node.
    pub fn job_finished(&self, elapsed: Duration) {
        self.job_duration.record(elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_route_and_status() {
        let metrics = Metrics::new(true);
        let route = metrics.route("greeter", "v1", "hello");
        route.answered(Status::Success, Duration::from_millis(3));
        route.answered(Status::Success, Duration::from_millis(3));
        route.answered(Status::ValidationError, Duration::from_millis(1));
        metrics
            .endpoint("/no/such/path")
            .answered(Status::NotFound, Duration::ZERO);
        let text = metrics.render().expect("metrics are on");
        assert!(text.contains(
            r#"actiongate_requests_total{service="greeter",version="v1",action="hello",status="Success"} 2"#
        ), "{text}");
        assert!(text.contains(
            r#"actiongate_requests_total{service="greeter",version="v1",action="hello",status="ValidationError"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"actiongate_requests_total{service="unknown",version="unknown",action="unknown",status="NotFound"} 1"#
        ), "{text}");
        assert!(text.contains(
            r#"actiongate_request_duration_seconds_count{service="greeter",version="v1",action="hello"} 3"#
        ), "{text}");
        assert!(!text.contains("no/such"), "{text}");
    }

    #[test]
    fn off_counts_nothing() {
        let metrics = Metrics::new(false);
        metrics
            .route("greeter", "v1", "hello")
            .answered(Status::Success, Duration::ZERO);
        assert!(metrics.render().is_none());
    }
}

/// A connection's count in `actiongate_connections`, by state.
#[derive(Clone)]
pub struct ConnectionGauges {
    active: Gauge,
    parked: Gauge,
}

impl ConnectionGauges {
    /// Gauges that count nothing, for connections kept out of the figure.
    pub fn uncounted() -> Self {
        ConnectionGauges {
            active: Gauge::noop(),
            parked: Gauge::noop(),
        }
    }

    /// Counts one active connection while the guard lives.
    pub fn active(&self) -> Counted {
        Counted::new(&self.active)
    }

    /// Counts one parked connection while the guard lives.
    pub fn parked(&self) -> Counted {
        Counted::new(&self.parked)
    }
}

/// One in a gauge until dropped.
pub struct Counted(Gauge);

impl Counted {
    fn new(gauge: &Gauge) -> Self {
        gauge.increment(1.0);
        Counted(gauge.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

//! What operators and load balancers ask of a running gateway.
//!
//! - `GET /healthz`: the process serves (plain `ok`, no detail).
//! - `GET /readyz`: it should be sent traffic: the database answers, its
//!   migrations are current, and it is not draining (plain text, 200 or
//!   503).
//! - `GET /status` and `GET /status/<canonical>`: the checks behind that,
//!   with detail, for an organization admin's token (in the envelope).
//! - `GET /version`: the build.
//! - `GET /metrics`: Prometheus metrics ([`crate::metrics`]), with the
//!   figures read at scrape time (jobs, pool) read here.
//!
//! Every check reads through the read pool, so a probe never waits behind
//! a write (on SQLite, writes share one connection).

use std::time::{Duration, Instant};

use actiongate_entity::job;
use actiongate_wire::Timestamp;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, Statement,
};
use serde::Serialize;

use crate::jobs::{QUEUED, RUNNING};
use crate::metrics::{Scraped, JOB_STATES};
use crate::sqlite::WriteConnection;
use crate::Gateway;

/// This build: its version, the commit it was built from and the day.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Version {
    pub version: &'static str,
    pub git_commit: &'static str,
    pub build_date: &'static str,
}

pub const VERSION: Version = Version {
    version: env!("CARGO_PKG_VERSION"),
    git_commit: env!("ACTIONGATE_GIT_COMMIT"),
    build_date: env!("ACTIONGATE_BUILD_DATE"),
};

/// One check's outcome.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// Its name, as `GET /status/<canonical>` takes it.
    pub canonical: &'static str,
    pub category: &'static str,
    /// `Success` or `Error`.
    pub status: &'static str,
    pub message: String,
}

/// Every check, and the verdict: `Success` when all passed.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub status: &'static str,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn healthy(&self) -> bool {
        self.status == SUCCESS
    }
}

const SUCCESS: &str = "Success";
const ERROR: &str = "Error";

/// The checks, by name and category, in the order they run.
const CHECKS: [(&str, &str); 3] = [
    ("database", "storage"),
    ("migrations", "storage"),
    ("jobs", "job engine"),
];

/// The names of the checks, for messages.
pub fn names() -> String {
    CHECKS.map(|(name, _)| name).join(", ")
}

/// Why the gateway should not be sent traffic, if it should not.
pub async fn not_ready(gateway: &Gateway) -> Option<String> {
    if gateway.draining() {
        return Some("draining: the gateway is shutting down".into());
    }
    if let Err(err) = round_trip(&gateway.db().read).await {
        return Some(format!("the database does not answer: {err}"));
    }
    match pending_migrations(gateway).await {
        Ok(0) => None,
        Ok(pending) => Some(format!("{pending} migrations are not applied")),
        Err(err) => Some(format!("the migrations cannot be read: {err}")),
    }
}

/// The checks named by `only` (all when `None`); `None` for a name that
/// is no check.
pub async fn report(gateway: &Gateway, only: Option<&str>) -> Option<Report> {
    if only.is_some_and(|name| !CHECKS.iter().any(|(canonical, _)| *canonical == name)) {
        return None;
    }
    let mut checks = Vec::new();
    for (canonical, category) in CHECKS {
        if only.is_some_and(|name| name != canonical) {
            continue;
        }
        let outcome = match canonical {
            "database" => database(gateway).await,
            "migrations" => migrations(gateway).await,
            _ => jobs(gateway).await,
        };
        let (status, message) = match outcome {
            Ok(message) => (SUCCESS, message),
            Err(message) => (ERROR, message),
        };
        checks.push(Check {
            canonical,
            category,
            status,
            message,
        });
    }
    let status = if checks.iter().all(|check| check.status == SUCCESS) {
        SUCCESS
    } else {
        ERROR
    };
    Some(Report { status, checks })
}

async fn round_trip(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.query_one(Statement::from_string(backend, "SELECT 1"))
        .await
        .map(|_| ())
}

async fn database(gateway: &Gateway) -> Result<String, String> {
    let started = Instant::now();
    round_trip(&gateway.db().read)
        .await
        .map_err(|err| format!("the database does not answer: {err}"))?;
    let backend = match gateway.db().read.get_database_backend() {
        sea_orm::DbBackend::Postgres => "PostgreSQL",
        sea_orm::DbBackend::Sqlite => "SQLite",
        sea_orm::DbBackend::MySql => "MySQL",
    };
    Ok(format!(
        "{backend} answers; round trip {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    ))
}

async fn pending_migrations(gateway: &Gateway) -> Result<usize, sea_orm::DbErr> {
    let applied = actiongate_migration::applied(&gateway.db().read).await?;
    Ok(gateway
        .migrations()
        .iter()
        .filter(|name| !applied.contains(*name))
        .count())
}

async fn migrations(gateway: &Gateway) -> Result<String, String> {
    match pending_migrations(gateway).await {
        Ok(0) => Ok(format!(
            "all {} migrations are applied",
            gateway.migrations().len()
        )),
        Ok(pending) => Err(format!("{pending} migrations are not applied")),
        Err(err) => Err(format!("the migrations cannot be read: {err}")),
    }
}

/// The job table at a glance.
struct JobFigures {
    /// Jobs in each of [`JOB_STATES`], in that order.
    by_state: [u64; JOB_STATES.len()],
    /// Running jobs whose node stopped renewing its lease.
    lapsed: u64,
    /// How long the oldest queued job has waited.
    oldest_queued: Duration,
}

async fn job_figures(db: &DatabaseConnection) -> Result<JobFigures, sea_orm::DbErr> {
    let now = Timestamp::now_ms();
    let in_state = |state: &'static str| job::Entity::find().filter(job::Column::State.eq(state));
    // One count per state: a grouped count's column has no declared type,
    // which the SQLite reader cannot decode as the 64-bit count PostgreSQL
    // returns.
    let mut by_state = [0; JOB_STATES.len()];
    for (count, state) in by_state.iter_mut().zip(JOB_STATES) {
        *count = in_state(state).count(db).await?;
    }
    let lapsed = in_state(RUNNING)
        .filter(job::Column::LeaseUntil.lt(now))
        .count(db)
        .await?;
    let oldest: Option<i64> = in_state(QUEUED)
        .select_only()
        .column_as(Expr::col(job::Column::RequestTime).min(), "oldest")
        .into_tuple()
        .one(db)
        .await?
        .flatten();
    let oldest_queued = oldest.map_or(Duration::ZERO, |at| {
        Duration::from_millis((now - at).max(0) as u64)
    });
    Ok(JobFigures {
        by_state,
        lapsed,
        oldest_queued,
    })
}

fn count_in(figures: &JobFigures, state: &str) -> u64 {
    JOB_STATES
        .iter()
        .position(|known| *known == state)
        .map_or(0, |i| figures.by_state[i])
}

async fn jobs(gateway: &Gateway) -> Result<String, String> {
    let figures = job_figures(&gateway.db().read)
        .await
        .map_err(|err| format!("the job table cannot be read: {err}"))?;
    Ok(format!(
        "{} queued (the oldest for {} s), {} running, {} with a lapsed lease",
        count_in(&figures, QUEUED),
        figures.oldest_queued.as_secs(),
        count_in(&figures, RUNNING),
        figures.lapsed
    ))
}

/// The Prometheus exposition, with the figures read at scrape time, or
/// `None` when metrics are off. When the job table cannot be read, its
/// gauges keep their last values and the scrape still answers.
pub async fn metrics(gateway: &Gateway) -> Option<String> {
    let metrics = gateway.metrics();
    if !metrics.enabled() {
        return None;
    }
    let (pool_idle, pool_in_use) = crate::db::pool_connections(gateway.db());
    let mut scraped = Scraped {
        pool_idle,
        pool_in_use,
        log_dropped: crate::logging::dropped_total(),
        unindexed_reads: gateway
            .sqlite_reader()
            .map(|reader| (reader.plans().sorted(), reader.plans().scanned())),
        long_reads: gateway
            .sqlite_reader()
            .map(|reader| reader.plans().offloaded()),
        commits: gateway.sqlite_write().map(WriteConnection::commits),
        ..Scraped::default()
    };
    match job_figures(&gateway.db().read).await {
        Ok(figures) => {
            scraped.jobs = Some(figures.by_state);
            scraped.queue_oldest = Some(figures.oldest_queued);
        }
        Err(err) => tracing::warn!(error = %err, "metrics: the job table cannot be read"),
    }
    metrics.set_scraped(&scraped);
    metrics.render()
}

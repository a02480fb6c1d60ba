//! The durable async engine: the job table and the workers that run it.
//!
//! A request becomes a job when it is designated asynchronous, when a
//! synchronous call outlasts its threshold, or when it carries an
//! `Idempotency-Key`. It is written to the `jobs` table before its 202 is
//! sent and then goes `queued -> running -> succeeded | failed | cancelled`.
//!
//! - **Leases.** A running job names its node and holds a lease that the
//!   node renews ([`worker`]). A node that dies stops renewing; once the
//!   lease lapses, any node's claimer takes the job again. A job accepted
//!   while this node has capacity is written already claimed and runs at
//!   once; otherwise it is written `queued` for any node to claim.
//! - **Run once.** A handler's writes are committed by the gateway in one
//!   transaction with the job's result, fenced by the claim (node and
//!   attempt): a run that lost its lease or was cancelled matches no row
//!   and rolls back. So a job whose result committed never runs again, and
//!   a run that did not commit leaves nothing behind. Calls out of the
//!   database are at least once: they get the request id as their
//!   idempotency key.
//! - **Group commit.** New jobs, results of handlers that wrote nothing,
//!   poll counts and claims go through one batching [`writer`].
//! - **Waking.** Long-polls wait on [`waiters`]; workers wake on new jobs.
//!   Across PostgreSQL nodes both ride LISTEN/NOTIFY ([`listener`]), with a
//!   periodic claim as the safety net.
//!
//! - **Serialization.** Jobs sharing a key (an activity's record) run one
//!   at a time, in the order accepted, across nodes ([`store::claim`]).
//!   graphile-worker's named queues are the model.
//!
//! - **Outbox.** Each state an activity enters is written with the job's
//!   change and handed to the services' hooks once ([`outbox`]).
//!
//! One file a job: [`accept`] records a request, [`running`] is this
//! node's registry, [`worker`] claims and runs, [`report`] stores what
//! runs report, [`settle`] stores how a
//! run ended, [`lookup`] serves polls and replays (from [`known`] for a job
//! this node runs), [`cancel`] cancels;
//! every statement is in [`store`], batched by [`writer`].

mod accept;
mod cancel;
mod known;
mod listener;
mod lookup;
mod outbox;
mod report;
mod requests;
mod running;
mod settle;
pub mod store;
mod waiters;
mod worker;
mod writer;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_entity::job;
use actiongate_service::{Db, Principal};
use actiongate_wire::{RequestId, Timestamp};
use anyhow::Context as _;
use bytes::Bytes;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth_epoch::AuthEpoch;
use crate::routes::RouteTable;
use crate::sqlite::WriteConnection;
use crate::trace::TraceContext;
use crate::upstream::forward::UpstreamCall;
use crate::upstream::Upstreams;
use crate::Config;
use running::Running;
use store::Fence;
use waiters::Waiters;
pub use worker::job_span;
pub use worker::Work;
use writer::Writer;

pub use actiongate_entity::job::{CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED};

/// The engine's settings, from [`Config`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub lease: Duration,
    pub concurrency: usize,
    pub claim_interval: Duration,
    pub result_ttl: Duration,
    pub activity_ttl: Duration,
    pub idempotency_ttl: Duration,
    pub poll_limit: u32,
    /// For the PostgreSQL listener's own connection.
    pub database_url: String,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Settings {
            lease: config.job_lease,
            concurrency: config.job_concurrency.max(1),
            claim_interval: config.job_claim_interval,
            result_ttl: config.result_ttl,
            activity_ttl: config.activity_ttl,
            idempotency_ttl: config.idempotency_ttl,
            poll_limit: config.poll_limit,
            database_url: config.database_url(),
        }
    }
}

/// What is known of a request when it becomes a job.
#[derive(Clone)]
pub struct JobSpec {
    pub request_id: RequestId,
    pub request_time: Timestamp,
    pub principal: Arc<Principal>,
    /// The project the call's declared scope resolved to.
    pub scope_project_id: Option<Arc<str>>,
    pub service: &'static str,
    pub version: Cow<'static, str>,
    /// The action's path; for an upstream call, the path as called.
    pub action: Cow<'static, str>,
    /// The body as received.
    pub input: Bytes,
    pub idempotency_key: Option<String>,
    /// The request's place in its trace, continued by the job's run.
    pub trace: TraceContext,
    /// For an upstream call: how to make it again. Serialized only when
    /// the call is recorded.
    pub upstream_call: Option<Arc<UpstreamCall>>,
    /// Set for an activity: its type, and the key (`environment:env_...`)
    /// of the record whose activities run one at a time.
    pub activity: Option<ActivitySpec>,
}

/// What makes a job an activity.
#[derive(Clone, Debug)]
pub struct ActivitySpec {
    pub kind: &'static str,
    /// Jobs with the same key run one at a time, in the order accepted.
    pub queue_key: Option<String>,
}

/// One run of a job by this node.
#[derive(Clone, Debug)]
pub struct Claim {
    pub request_id: RequestId,
    pub fence: Fence,
    pub request_time: Timestamp,
    pub retention: Retention,
}

/// What decides how long a finished job is kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Retention {
    /// It carries an `Idempotency-Key`: kept for the key's whole period.
    pub keyed: bool,
    /// It is an activity: kept for `activity_ttl`.
    pub activity: bool,
}

impl Retention {
    pub fn of(row: &job::Model) -> Self {
        Retention {
            keyed: row.idempotency_key.is_some(),
            activity: row.activity_type.is_some(),
        }
    }
}

/// How a cancel request went.
pub enum Cancelled {
    /// It was queued and is now cancelled.
    Now,
    /// It is running; the handler stops at its next checkpoint.
    Requested,
    /// It had already finished, in this state.
    AlreadyFinished(String),
}

/// The engine. One per gateway process.
pub struct Jobs {
    db: Db,
    routes: Arc<RouteTable>,
    /// For jobs that are calls to upstream services.
    upstreams: Arc<Upstreams>,
    node_id: String,
    settings: Settings,
    writer: Writer,
    waiters: Arc<Waiters>,
    /// Told when a committed call changed who may do what.
    auth_epoch: Arc<AuthEpoch>,
    /// Jobs this node is running: how to cancel them, and how to stop them
    /// at shutdown.
    running: Mutex<HashMap<String, Running>>,
    capacity: Arc<Semaphore>,
    wake_claimer: Notify,
    stopping: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Jobs {
    /// Starts the engine: its writer, claimer, lease keeper, sweeper and,
    /// on PostgreSQL, its listener. On SQLite the writer writes through
    /// `sqlite_write`.
    pub async fn start(
        db: Db,
        sqlite_write: Option<Arc<WriteConnection>>,
        routes: Arc<RouteTable>,
        upstreams: Arc<Upstreams>,
        settings: Settings,
        auth_epoch: Arc<AuthEpoch>,
    ) -> anyhow::Result<Arc<Self>> {
        let waiters = Arc::new(Waiters::default());
        let target = match sqlite_write {
            Some(connection) => writer::Target::Sqlite(connection),
            None => writer::Target::Pool(db.write.clone()),
        };
        let (writer, writer_task) =
            Writer::spawn(target, waiters.clone()).context("starting the job writer")?;
        let jobs = Arc::new(Jobs {
            node_id: actiongate_wire::new_id("node"),
            capacity: Arc::new(Semaphore::new(settings.concurrency)),
            db,
            routes,
            upstreams,
            settings,
            auth_epoch,
            writer,
            waiters,
            running: Mutex::new(HashMap::new()),
            wake_claimer: Notify::new(),
            stopping: CancellationToken::new(),
            tasks: Mutex::new(vec![writer_task]),
        });
        let mut tasks = vec![
            jobs.clone().spawn_claimer(),
            jobs.clone().spawn_lease_keeper(),
            jobs.clone().spawn_reporter(),
            jobs.clone().spawn_dispatcher(),
        ];
        let database_url = jobs.settings.database_url.clone();
        if let Some(task) = listener::spawn(jobs.clone(), &database_url).await {
            tasks.push(task);
        }
        jobs.tasks.lock().expect("tasks lock").extend(tasks);
        Ok(jobs)
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn lease_until(&self) -> i64 {
        Timestamp::now_ms().saturating_add(millis(self.settings.lease))
    }
}

fn live(row: &job::Model) -> bool {
    row.expires_at.is_none_or(|at| at > Timestamp::now_ms())
}

/// How long a job waits before running again after the database was away:
/// doubling from 250 ms with each attempt, at most 30 s.
fn retry_delay(attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(7);
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(Duration::from_secs(30))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

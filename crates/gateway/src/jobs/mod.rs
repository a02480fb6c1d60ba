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
//!   and poll counts go through one batching [`writer`].
//! - **Waking.** Long-polls wait on [`waiters`]; workers wake on new jobs.
//!   Across PostgreSQL nodes both ride LISTEN/NOTIFY ([`listener`]), with a
//!   periodic claim as the safety net.

mod listener;
pub mod store;
mod waiters;
mod worker;
mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_entity::{auth_epoch, job};
use actiongate_service::{Ctx, Db, Principal};
use actiongate_wire::{ApiError, RequestId, Status, Timestamp};
use bytes::Bytes;
use sea_orm::{DatabaseTransaction, DbErr, Set, TransactionTrait};
use tokio::sync::{Notify, Semaphore};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::audit;
use crate::auth_epoch::AuthEpoch;
use crate::routes::RouteTable;
use crate::{Config, Outcome};
use store::{Fence, Final};
use waiters::{Registration, Waiters};
pub use worker::Work;
use writer::{Done, Op, Writer};

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// The engine's settings, from [`Config`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub lease: Duration,
    pub concurrency: usize,
    pub claim_interval: Duration,
    pub result_ttl: Duration,
    pub idempotency_ttl: Duration,
    pub poll_limit: u32,
    pub sweep_interval: Duration,
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
            idempotency_ttl: config.idempotency_ttl,
            poll_limit: config.poll_limit,
            sweep_interval: config.result_sweep_interval,
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
    pub version: &'static str,
    pub action: &'static str,
    pub input: Bytes,
    /// SHA-256 of `input`, hex.
    pub input_hash: String,
    pub idempotency_key: Option<String>,
}

/// One run of a job by this node.
#[derive(Clone, Debug)]
pub struct Claim {
    pub request_id: RequestId,
    pub fence: Fence,
    pub request_time: Timestamp,
    pub keyed: bool,
}

/// A job this node runs: its call (to cancel it, or read its progress),
/// and its task, to stop at shutdown.
struct Running {
    ctx: Ctx,
    abort: Option<AbortHandle>,
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
    /// on PostgreSQL, its listener.
    pub async fn start(
        db: Db,
        routes: Arc<RouteTable>,
        settings: Settings,
        auth_epoch: Arc<AuthEpoch>,
    ) -> Arc<Self> {
        let waiters = Arc::new(Waiters::default());
        let (writer, writer_task) = Writer::spawn(db.write.clone(), waiters.clone());
        let jobs = Arc::new(Jobs {
            node_id: actiongate_wire::new_id("node"),
            capacity: Arc::new(Semaphore::new(settings.concurrency)),
            db,
            routes,
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
            jobs.clone().spawn_sweeper(),
        ];
        let database_url = jobs.settings.database_url.clone();
        if let Some(task) = listener::spawn(jobs.clone(), &database_url).await {
            tasks.push(task);
        }
        jobs.tasks.lock().expect("tasks lock").extend(tasks);
        jobs
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

    fn new_row(&self, spec: &JobSpec, state: &str) -> job::ActiveModel {
        let running = state == RUNNING;
        let now = Timestamp::now_ms();
        job::ActiveModel {
            request_id: Set(spec.request_id.to_string()),
            org_id: Set(spec.principal.org_id.clone()),
            user_id: Set(spec.principal.user_id.clone()),
            token_id: Set(spec.principal.token_id.clone()),
            role: Set(Some(spec.principal.role.as_str().to_owned())),
            project_id: Set(spec.principal.project_id.clone()),
            role_cap: Set(spec.principal.role_cap.map(|r| r.as_str().to_owned())),
            scope_project_id: Set(spec.scope_project_id.as_deref().map(str::to_owned)),
            service: Set(spec.service.to_owned()),
            version: Set(spec.version.to_owned()),
            action: Set(spec.action.to_owned()),
            input: Set(spec.input.to_vec()),
            state: Set(state.to_owned()),
            node_id: Set(running.then(|| self.node_id.clone())),
            lease_until: Set(running.then(|| self.lease_until())),
            cancel_requested: Set(false),
            idempotency_key: Set(spec.idempotency_key.clone()),
            input_hash: Set(Some(spec.input_hash.clone())),
            attempts: Set(i32::from(running)),
            poll_count: Set(0),
            response: Set(None),
            http_code: Set(None),
            request_time: Set(spec.request_time.unix_ms()),
            started_at: Set(running.then_some(now)),
            finished_at: Set(None),
            expires_at: Set(None),
        }
    }

    fn claim_of(&self, spec: &JobSpec) -> Claim {
        Claim {
            request_id: spec.request_id,
            fence: Fence {
                request_id: spec.request_id.to_string(),
                node_id: self.node_id.clone(),
                attempt: 1,
            },
            request_time: spec.request_time,
            keyed: spec.idempotency_key.is_some(),
        }
    }

    /// Records a designated-asynchronous request and starts it here if
    /// there is room, else leaves it queued for any node. `Ok(false)`: its
    /// idempotency key was taken meanwhile.
    pub async fn accept(
        self: &Arc<Self>,
        spec: &JobSpec,
        ctx: Ctx,
        work: worker::Work,
    ) -> Result<bool, DbErr> {
        let permit = self.capacity.clone().try_acquire_owned().ok();
        let state = if permit.is_some() { RUNNING } else { QUEUED };
        let row = self.new_row(spec, state);
        if spec.idempotency_key.is_some() {
            if !store::insert_if_absent(&self.db.write, row).await? {
                return Ok(false);
            }
            if permit.is_none() {
                store::notify(&self.db.write, "queued").await?;
            }
        } else {
            self.writer
                .submit(Op::Insert {
                    row: Box::new(row),
                    queued: permit.is_none(),
                })
                .await?;
        }
        match permit {
            Some(permit) => {
                drop(self.run(self.claim_of(spec), ctx, work, Some(permit)));
            }
            None => self.wake_claimer.notify_one(),
        }
        Ok(true)
    }

    /// Records a request this node is already running (a synchronous call
    /// past its threshold, or one with an idempotency key). `None`: a row
    /// for it, or for its key, exists.
    pub async fn record_running(&self, spec: &JobSpec) -> Result<Option<Claim>, DbErr> {
        let inserted = store::insert_if_absent(&self.db.write, self.new_row(spec, RUNNING)).await?;
        Ok(inserted.then(|| self.claim_of(spec)))
    }

    /// Registers a run of this node's, so it can be cancelled and, at
    /// shutdown, stopped and handed back.
    pub fn track(&self, claim: &Claim, ctx: &Ctx, abort: Option<AbortHandle>) {
        self.running.lock().expect("running lock").insert(
            claim.fence.request_id.clone(),
            Running {
                ctx: ctx.clone(),
                abort,
            },
        );
    }

    /// The progress a job running on this node last reported.
    pub fn progress(&self, request_id: &str) -> Option<u8> {
        self.running
            .lock()
            .expect("running lock")
            .get(request_id)
            .and_then(|running| running.ctx.reported_progress())
    }

    fn untrack(&self, request_id: &str) {
        self.running
            .lock()
            .expect("running lock")
            .remove(request_id);
    }

    /// The stored form of a final outcome.
    fn final_of(
        &self,
        request_id: RequestId,
        claim_time: Timestamp,
        keyed: bool,
        outcome: &Outcome,
    ) -> Final {
        let now = Timestamp::now();
        let body = outcome.render(request_id, claim_time, now);
        let status = outcome.status();
        let finished_at = now.unix_ms();
        let mut expires_at = finished_at.saturating_add(millis(self.settings.result_ttl));
        if keyed {
            // A key is remembered for its whole period, however short the
            // result's own time to live.
            expires_at = expires_at.max(
                claim_time
                    .unix_ms()
                    .saturating_add(millis(self.settings.idempotency_ttl)),
            );
        }
        Final {
            state: match status {
                Status::Success => SUCCEEDED,
                Status::Cancelled => CANCELLED,
                _ => FAILED,
            },
            response: String::from_utf8(body).expect("serde_json writes UTF-8"),
            http_code: i32::from(status.http_code()),
            finished_at,
            expires_at,
        }
    }

    /// Commits what a synchronous call (not a job) wrote, together with its
    /// outcome, so that a retry naming this request replays it instead of
    /// writing again. Returns the outcome that stands.
    pub async fn commit_sync(
        &self,
        spec: &JobSpec,
        txn: DatabaseTransaction,
        ctx: &Ctx,
        outcome: Outcome,
    ) -> Outcome {
        if let Outcome::Retry(_) = outcome {
            // The database was away: nothing is kept; the caller retries.
            return outcome;
        }
        let end = self.final_of(spec.request_id, spec.request_time, false, &outcome);
        let mut row = self.new_row(spec, end.state);
        row.input = Set(Vec::new());
        row.node_id = Set(None);
        row.lease_until = Set(None);
        row.response = Set(Some(end.response));
        row.http_code = Set(Some(end.http_code));
        row.finished_at = Set(Some(end.finished_at));
        row.expires_at = Set(Some(end.expires_at));
        let committed = async {
            store::upsert_finished(&txn, row).await?;
            audit::record(&txn, ctx).await?;
            if ctx.tokens_invalidated() {
                auth_epoch::bump(&txn).await?;
            }
            txn.commit().await
        }
        .await;
        match committed {
            Ok(()) => {
                if ctx.tokens_invalidated() {
                    self.auth_epoch.moved();
                }
                outcome
            }
            Err(err) => Outcome::from_db_error(ctx.request_id, &err),
        }
    }

    /// Stores how a run ended. A handler's pending writes commit in the
    /// same transaction, unless the run was cancelled or lost its claim.
    /// Returns the outcome that stands, for a caller still waiting.
    pub async fn settle(&self, claim: &Claim, ctx: &Ctx, outcome: Outcome) -> Outcome {
        self.untrack(&claim.fence.request_id);
        let request_id = claim.request_id;
        let cancelled = outcome.status() == Status::Cancelled || ctx.cancellation().is_cancelled();
        let pending = ctx.take_pending_write();
        if cancelled {
            drop(pending);
            return self.end_cancelled(claim).await;
        }
        if let Outcome::Retry(_) = &outcome {
            // The database was away: nothing of this run is kept, and the
            // job runs again once it had time to come back.
            drop(pending);
            let delay = retry_delay(claim.fence.attempt);
            tracing::warn!(%request_id, attempt = claim.fence.attempt, ?delay, "the database was unavailable; the job will run again");
            self.retry(Op::Release {
                fence: claim.fence.clone(),
                retry_at: Some(Timestamp::now_ms().saturating_add(millis(delay))),
            })
            .await;
            return outcome;
        }
        let end = self.final_of(request_id, claim.request_time, claim.keyed, &outcome);
        let applied = match pending {
            Some(txn) => {
                let committed = async {
                    let applied = store::finish(&txn, &claim.fence, &end, true).await?;
                    if applied {
                        store::notify(&txn, &format!("done:{request_id}")).await?;
                        audit::record(&txn, ctx).await?;
                        if ctx.tokens_invalidated() {
                            auth_epoch::bump(&txn).await?;
                        }
                        txn.commit().await?;
                        if ctx.tokens_invalidated() {
                            self.auth_epoch.moved();
                        }
                    }
                    Ok::<_, DbErr>(applied)
                }
                .await;
                match committed {
                    Ok(applied) => {
                        if applied {
                            self.waiters.wake(&claim.fence.request_id);
                        }
                        applied
                    }
                    Err(err) => {
                        // Nothing of this run was kept: let it run again.
                        tracing::error!(%request_id, error = %err, "committing a job failed; it will run again");
                        self.retry(Op::Release {
                            fence: claim.fence.clone(),
                            retry_at: None,
                        })
                        .await;
                        return ApiError::new(
                            Status::ServiceNotAvailable,
                            "The request could not be completed now; it will run again",
                        )
                        .into();
                    }
                }
            }
            None => matches!(
                self.retry(Op::finish(claim.fence.clone(), end, true)).await,
                Done::Applied(true)
            ),
        };
        if applied {
            return outcome;
        }
        // Cancelled meanwhile (by another node's caller), or the claim lapsed
        // and another node took the job over.
        let row = store::find(&self.db.write, &claim.fence.request_id)
            .await
            .ok()
            .flatten();
        match row {
            Some(row) if row.cancel_requested && row.state == RUNNING => {
                self.end_cancelled(claim).await
            }
            _ => {
                tracing::warn!(%request_id, "a job's claim lapsed while it ran; its result was discarded");
                ApiError::new(
                    Status::ServiceNotAvailable,
                    "The request was taken over by another node; poll it for the result",
                )
                .into()
            }
        }
    }

    /// Stores the outcome of a call recorded as a job just after it was
    /// answered directly.
    pub async fn finish_answered(&self, claim: &Claim, outcome: &Outcome) {
        self.untrack(&claim.fence.request_id);
        let end = self.final_of(claim.request_id, claim.request_time, claim.keyed, outcome);
        self.retry(Op::finish(claim.fence.clone(), end, false))
            .await;
    }

    async fn end_cancelled(&self, claim: &Claim) -> Outcome {
        let outcome = Outcome::cancelled();
        let end = self.final_of(claim.request_id, claim.request_time, claim.keyed, &outcome);
        self.retry(Op::finish(claim.fence.clone(), end, false))
            .await;
        outcome
    }

    /// Submits `op` until it commits: a result must not be lost to a
    /// passing database error.
    async fn retry(&self, op: Op) -> Done {
        let mut delay = Duration::from_millis(50);
        loop {
            match self.writer.submit(op.clone()).await {
                Ok(done) => return done,
                Err(err) => {
                    tracing::error!(error = %err, "writing to the job table failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// A job, if it exists and has not expired.
    pub async fn find_live(&self, request_id: &str) -> Result<Option<job::Model>, DbErr> {
        let row = store::find(&self.db.read, request_id).await?;
        Ok(row.filter(live))
    }

    /// The live job a token started with `key`. An expired one is removed
    /// so the key can be used again.
    pub async fn find_by_key(
        &self,
        token_id: &str,
        key: &str,
    ) -> Result<Option<job::Model>, DbErr> {
        let row = store::find_by_key(&self.db.read, token_id, key).await?;
        match row {
            Some(row) if !live(&row) => {
                store::delete_expired(&self.db.write, &row.request_id, Timestamp::now_ms()).await?;
                Ok(None)
            }
            row => Ok(row),
        }
    }

    /// Counts a fetch; the count so far.
    pub async fn count_poll(&self, request_id: &str) -> Result<Option<i32>, DbErr> {
        match self
            .writer
            .submit(Op::CountPoll {
                request_id: request_id.to_owned(),
            })
            .await?
        {
            Done::Polls(count) => Ok(count),
            _ => unreachable!("a poll count answers with the count"),
        }
    }

    /// Starts waiting for `request_id`'s result, before the caller looks
    /// at the job; see [`Jobs::wait_final`].
    pub fn register_wait<'a>(&'a self, request_id: &'a str) -> Registration<'a> {
        self.waiters.register(request_id)
    }

    /// Waits up to `at_most` for `request_id` to finish, on a wait
    /// registered before the caller last looked at it; the row as it is
    /// then, finished or not.
    pub async fn wait_final(
        &self,
        request_id: &str,
        at_most: Duration,
        registered: Registration<'_>,
    ) -> Result<Option<job::Model>, DbErr> {
        // Results stored by another node reach this one by NOTIFY on
        // PostgreSQL; looking again every second covers a missed one.
        const LOOK_AGAIN: Duration = Duration::from_secs(1);
        let deadline = tokio::time::Instant::now() + at_most;
        let mut registration = registered;
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            registration.wait(remaining.min(LOOK_AGAIN)).await;
            let next = self.waiters.register(request_id);
            match self.find_live(request_id).await? {
                Some(row) if row.response.is_none() && tokio::time::Instant::now() < deadline => {
                    registration = next;
                }
                row => return Ok(row),
            }
        }
    }

    /// Cancels a job: at once if queued; at the handler's next checkpoint
    /// if running (here, or on another node, which learns of it by NOTIFY
    /// or at its next lease renewal).
    pub async fn cancel(&self, row: &job::Model) -> Result<Cancelled, DbErr> {
        if row.response.is_some() {
            return Ok(Cancelled::AlreadyFinished(row.state.clone()));
        }
        let request_id = RequestId::parse(&row.request_id)
            .map_err(|_| DbErr::Custom(format!("invalid request id {:?}", row.request_id)))?;
        let end = self.final_of(
            request_id,
            Timestamp::from_unix_ms(row.request_time),
            row.idempotency_key.is_some(),
            &Outcome::cancelled(),
        );
        let txn = self.db.write.begin().await?;
        if store::cancel_queued(&txn, &row.request_id, &end).await? {
            store::notify(&txn, &format!("done:{}", row.request_id)).await?;
            txn.commit().await?;
            self.waiters.wake(&row.request_id);
            return Ok(Cancelled::Now);
        }
        if store::request_cancel(&txn, &row.request_id).await? {
            store::notify(&txn, &format!("cancel:{}", row.request_id)).await?;
            txn.commit().await?;
            self.trip(&row.request_id);
            return Ok(Cancelled::Requested);
        }
        txn.commit().await?;
        // It finished in the meantime.
        let state = store::find(&self.db.write, &row.request_id)
            .await?
            .map(|row| row.state)
            .unwrap_or_else(|| SUCCEEDED.to_owned());
        Ok(Cancelled::AlreadyFinished(state))
    }

    /// Trips the cancellation of a job if this node runs it.
    fn trip(&self, request_id: &str) {
        if let Some(running) = self.running.lock().expect("running lock").get(request_id) {
            running.ctx.cancellation().cancel();
        }
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

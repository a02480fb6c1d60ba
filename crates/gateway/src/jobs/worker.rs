//! This node's side of the engine: running jobs, claiming queued and
//! orphaned ones, keeping leases, sweeping expired results, and handing
//! unfinished work back at shutdown.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use actiongate_entity::job;
use actiongate_service::{ActionName, Ctx, Principal, Role};
use actiongate_wire::{ApiError, RequestId, Status, Timestamp};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::{oneshot, OwnedSemaphorePermit};
use tokio::task::JoinHandle;

use super::store::{self, Fence};
use super::writer::{ClaimFor, Done, Op};
use super::{Claim, Jobs, Retention};
use crate::trace::TraceContext;
use crate::upstream::forward::UpstreamCall;
use crate::Outcome;
use tracing::Instrument;

/// The span of a job's run on this node: its lines carry the trace id.
/// At ERROR level so that it exists whenever any line is logged (a span's
/// level only decides when it is made).
pub fn job_span(trace: &TraceContext) -> tracing::Span {
    let span = tracing::error_span!("job", trace_id = %trace.trace_id);
    crate::telemetry::link(&span, *trace);
    span
}

/// A handler's run, as a future of its outcome.
pub type Work = BoxFuture<'static, Outcome>;

/// The most jobs one claim takes.
const CLAIM_BATCH: usize = 128;

impl Jobs {
    /// Runs `work` in a task of its own and settles it; the receiver gets
    /// the outcome that stands.
    pub fn run(
        self: &Arc<Self>,
        claim: Claim,
        ctx: Ctx,
        work: Work,
        permit: Option<OwnedSemaphorePermit>,
    ) -> oneshot::Receiver<Outcome> {
        let request_id = claim.fence.request_id.clone();
        self.track(&claim, &ctx, None);
        let jobs = self.clone();
        let (done, outcome) = oneshot::channel();
        let task = tokio::spawn(
            async move {
                let outcome = work.await;
                let _ = done.send(jobs.settle(&claim, &ctx, outcome).await);
                drop(permit);
            }
            .in_current_span(),
        );
        if let Some(entry) = self
            .running
            .lock()
            .expect("running lock")
            .get_mut(&request_id)
        {
            entry.abort = Some(task.abort_handle());
        }
        outcome
    }

    /// Starts a job claimed from the table.
    fn start_claimed(self: &Arc<Self>, row: job::Model, permit: Option<OwnedSemaphorePermit>) {
        let Ok(request_id) = RequestId::parse(&row.request_id) else {
            tracing::error!(
                id = row.request_id,
                "job with an invalid request id skipped"
            );
            return;
        };
        let claim = Claim {
            request_id,
            fence: Fence {
                request_id: row.request_id.clone(),
                node_id: self.node_id.clone(),
                attempt: row.attempts,
            },
            request_time: Timestamp::from_unix_ms(row.request_time),
            retention: Retention::of(&row),
        };
        let principal = Arc::new(Principal {
            token_id: row.token_id.clone(),
            user_id: row.user_id.clone(),
            org_id: row.org_id.clone(),
            // Checked when the job was accepted; it runs with what it had.
            role: row
                .role
                .as_deref()
                .and_then(|role| role.parse().ok())
                .unwrap_or(Role::Viewer),
            project_id: row.project_id.clone(),
            role_cap: row.role_cap.as_deref().and_then(|role| role.parse().ok()),
            // Loaded by a check that needs them.
            custom: Default::default(),
        });
        let project_scope = row.scope_project_id.clone().map(Into::into);
        let (ctx, work) = self
            .local_work(&row, request_id, principal.clone(), project_scope)
            .or_else(|| self.upstream_work(&row, request_id, principal.clone()))
            .unwrap_or_else(|| {
                // It fails before any write, so its name is never audited.
                let name = ActionName {
                    service: "",
                    version: "",
                    path: "",
                };
                let ctx = Ctx::new(
                    request_id,
                    name,
                    principal,
                    self.db.clone(),
                    Default::default(),
                );
                let err = ApiError::new(
                    Status::ServiceNotAvailable,
                    format!(
                        "The action {}/{}/{} is no longer served by this gateway",
                        row.service, row.version, row.action
                    ),
                );
                (ctx, async move { Outcome::Failure(err) }.boxed())
            });
        if row.cancel_requested {
            ctx.cancellation().cancel();
        }
        // The job's lines carry its caller's trace, whichever node runs it.
        let trace = row
            .traceparent
            .as_deref()
            .and_then(TraceContext::parse)
            .unwrap_or_else(TraceContext::start);
        let _job = job_span(&trace).entered();
        if row.attempts > 1 {
            tracing::info!(%request_id, attempt = row.attempts, "running a job again");
        }
        self.waiters.known().started(job::Model {
            input: Vec::new(),
            ..row
        });
        // Nobody waits for a claimed job's outcome but its pollers.
        drop(self.run(claim, ctx, work, permit));
    }

    /// A job of a local action: its handler on the stored input.
    fn local_work(
        &self,
        row: &job::Model,
        request_id: RequestId,
        principal: Arc<Principal>,
        project_scope: Option<Arc<str>>,
    ) -> Option<(Ctx, Work)> {
        let key = format!("{}/{}", row.version, row.action);
        let service = self.routes.service_named(&row.service)?;
        let action = service.runnable(&key)?;
        let ctx = Ctx::new(
            request_id,
            action.name(service.name),
            principal,
            self.db.clone(),
            service.state.clone(),
        )
        .with_project_scope(project_scope);
        let work = match action.handler.decode(&row.input) {
            Ok(input) => action.run(ctx.clone(), input),
            Err(err) => async move { Outcome::Failure(err) }.boxed(),
        };
        Some((ctx, work))
    }

    /// A job that is a call to an upstream service, made again (or its
    /// polling resumed) with the same request id and idempotency key.
    fn upstream_work(
        &self,
        row: &job::Model,
        request_id: RequestId,
        principal: Arc<Principal>,
    ) -> Option<(Ctx, Work)> {
        let call: Arc<UpstreamCall> = serde_json::from_str(row.upstream_call.as_deref()?).ok()?;
        let table = self.upstreams.current();
        let service = table.service_named(&row.service)?.clone();
        let key = format!("{}/{}", row.version, row.action);
        let action = service.action(&key);
        let ctx = service.context(&key, action, request_id, principal.clone(), self.db.clone());
        let work = self.upstreams.work(
            service.clone(),
            action.call,
            call,
            row.input.clone().into(),
            request_id,
            principal,
        );
        Some((ctx, work))
    }

    /// Claims queued jobs and lapsed leases while there is room, whenever
    /// woken and at least every `claim_interval`.
    pub(super) fn spawn_claimer(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                self.claim_while_room().await;
                tokio::select! {
                    () = self.stopping.cancelled() => return,
                    () = self.wake_claimer.notified() => {}
                    () = tokio::time::sleep(self.settings.claim_interval) => {}
                }
            }
        })
    }

    async fn claim_while_room(self: &Arc<Self>) {
        loop {
            let room = self.capacity.available_permits().min(CLAIM_BATCH);
            if room == 0 || self.stopping.is_cancelled() {
                return;
            }
            // Through the job writer: a claim shares the commit (and, on
            // SQLite, the one connection's hand-over) with the records and
            // results written at the same moment.
            let claim = ClaimFor {
                node_id: self.node_id.clone(),
                limit: room as u64,
                now: Timestamp::now_ms(),
                lease_until: self.lease_until(),
            };
            let rows = match self.writer.submit(Op::Claim(claim)).await {
                Ok(Done::Claimed(rows)) => rows,
                Ok(_) => unreachable!("a claim answers with the rows it took"),
                Err(err) => {
                    tracing::warn!(error = %err, "claiming jobs failed");
                    return;
                }
            };
            let count = rows.len();
            for row in rows {
                // Accepted jobs may have taken the room meanwhile; a claimed
                // job runs regardless, a little over capacity.
                let permit = self.capacity.clone().try_acquire_owned().ok();
                self.start_claimed(row, permit);
            }
            if count < room {
                return;
            }
        }
    }

    /// Renews the leases of the jobs this node runs every third of a
    /// lease, trips the cancellation of jobs a caller cancelled through
    /// another node, and stops the runs whose lease it lost.
    pub(super) fn spawn_lease_keeper(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(async move {
            let every = self.settings.lease / 3;
            loop {
                tokio::time::sleep(every).await;
                let running = self.running_ids();
                if running.is_empty() {
                    continue;
                }
                match store::renew(&self.db.write, &self.node_id, &running, self.lease_until())
                    .await
                {
                    Ok(renewed) => {
                        let held: HashSet<&str> =
                            renewed.iter().map(|(id, _)| id.as_str()).collect();
                        for request_id in running.iter().filter(|id| !held.contains(id.as_str())) {
                            self.lease_lost(request_id);
                        }
                        for (request_id, _) in renewed.iter().filter(|(_, cancel)| *cancel) {
                            self.trip(request_id);
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "renewing job leases failed"),
                }
            }
        })
    }

    /// `request_id`'s row is no longer this node's to renew: its lease
    /// lapsed (the database was out of reach for longer) and another node
    /// took the job, or this node committed its end while the renewal ran.
    /// A run still going here is stopped, as its end would be refused
    /// anyway, and what [`super::known::Known`] holds of the job without an
    /// end is dropped, so that polls here read the row, which may hold
    /// the other node's end, instead of answering 202 from memory.
    fn lease_lost(&self, request_id: &str) {
        if self.trip(request_id) {
            tracing::warn!(
                request_id,
                "a running job's lease was lost; its run here stops"
            );
        }
        self.waiters.known().settled(request_id);
    }

    /// Stops claiming, gives running jobs up to `grace` to finish, then
    /// stops the rest and puts them back in the queue for another run.
    pub async fn shutdown(&self, grace: Duration) {
        self.stopping.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        while !self.running.lock().expect("running lock").is_empty()
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let unfinished: Vec<_> = self.running.lock().expect("running lock").drain().collect();
        for (_, running) in &unfinished {
            if let Some(abort) = &running.abort {
                abort.abort();
            }
        }
        if !unfinished.is_empty() {
            // Let the aborted tasks drop their transactions first.
            tokio::task::yield_now().await;
            match store::release_all(&self.db.write, &self.node_id).await {
                Ok(n) => tracing::info!(released = n, "unfinished jobs handed back"),
                Err(err) => {
                    tracing::error!(error = %err, "handing jobs back failed; they run again when their leases lapse")
                }
            }
        }
        for task in self.tasks.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }
}

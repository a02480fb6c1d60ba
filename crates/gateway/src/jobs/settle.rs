//! How a run ends: its outcome stored, with the handler's writes, the
//! audit event and the auth epoch in one transaction (fenced by the claim),
//! or the job handed back to the queue when the database was away.

use std::sync::Arc;
use std::time::Duration;

use actiongate_entity::{audit_event, auth_epoch};
use actiongate_service::{Ctx, WriteTransaction};
use actiongate_wire::{ApiError, RequestId, Status, Timestamp};
use sea_orm::{DbErr, Set};

use super::outbox;
use super::store::{self, Final, Finish};
use super::writer::{Done, Op};
use super::{
    millis, retry_delay, Claim, JobSpec, Jobs, Retention, CANCELLED, FAILED, RUNNING, SUCCEEDED,
};
use crate::{audit, Outcome};

impl Jobs {
    /// The stored form of a final outcome.
    pub(super) fn final_of(
        &self,
        request_id: RequestId,
        claim_time: Timestamp,
        retention: Retention,
        outcome: &Outcome,
    ) -> Final {
        let now = Timestamp::now();
        let body = outcome.render_kept(request_id, claim_time, now);
        let status = outcome.status();
        let finished_at = now.unix_ms();
        let ttl = if retention.activity {
            self.settings.activity_ttl.max(self.settings.result_ttl)
        } else {
            self.settings.result_ttl
        };
        let mut expires_at = finished_at.saturating_add(millis(ttl));
        if retention.keyed {
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
            http_code: i32::from(outcome.http_code()),
            finished_at,
            expires_at,
            upstream_request_id: match outcome {
                Outcome::Relayed(relayed) => relayed.upstream_request_id.clone(),
                _ => None,
            },
        }
    }

    /// Commits what a synchronous call (not a job) wrote, together with its
    /// outcome, so that a retry naming this request replays it instead of
    /// writing again. Returns the outcome that stands.
    pub async fn commit_sync(
        &self,
        spec: &JobSpec,
        txn: WriteTransaction,
        ctx: &Ctx,
        outcome: Outcome,
    ) -> Outcome {
        if let Outcome::Retry(_) = outcome {
            // The database was away: nothing is kept; the caller retries.
            return outcome;
        }
        let end = self.final_of(
            spec.request_id,
            spec.request_time,
            Retention::default(),
            &outcome,
        );
        let mut row = self.new_row(spec, end.state);
        row.input = Set(Vec::new());
        row.node_id = Set(None);
        row.lease_until = Set(None);
        row.response = Set(Some(end.response));
        row.http_code = Set(Some(end.http_code));
        row.finished_at = Set(Some(end.finished_at));
        row.expires_at = Set(Some(end.expires_at));
        row.upstream_request_id = Set(end.upstream_request_id);
        let committed = async {
            store::upsert_finished(&txn, row).await?;
            self.commit_with_effects(txn, ctx).await
        }
        .await;
        match committed {
            Ok(()) => outcome,
            Err(err) => Outcome::from_db_error(ctx.request_id, &err),
        }
    }

    /// How a synchronous call answered directly ends: what it wrote
    /// committed with its outcome ([`Jobs::commit_sync`]), or, when its
    /// success is its change (an upstream call), its audit event
    /// group-committed before the answer.
    pub async fn end_sync(&self, spec: &JobSpec, ctx: &Ctx, outcome: Outcome) -> Outcome {
        // The writes are boxed: a call that reads only (most) would
        // otherwise carry room for them in its future.
        if let Some(txn) = ctx.take_pending_write() {
            return Box::pin(self.commit_sync(spec, txn, ctx, outcome)).await;
        }
        if let Some(event) = audit::of_success(ctx, &outcome) {
            // The change was made upstream and cannot be taken back: the
            // caller gets its answer even if its record could not be kept.
            if let Err(err) = Box::pin(self.writer.submit(Op::Audit(Box::new(event)))).await {
                tracing::error!(request_id = %ctx.request_id, error = %err, "the audit event of an upstream call was not recorded");
            }
        }
        outcome
    }

    /// Commits a call's transaction with what every committed change
    /// brings along: its audit event and, when it changed who may do what,
    /// the auth epoch moved on (here and, through the shared counter, in
    /// every process).
    async fn commit_with_effects(&self, txn: WriteTransaction, ctx: &Ctx) -> Result<(), DbErr> {
        // A job a service started itself (no token: a webhook delivery)
        // is the gateway's own doing, recorded where it belongs, not in
        // the callers' trail.
        if !ctx.principal.token_id.is_empty() {
            audit::record(&txn, ctx).await?;
        }
        if ctx.tokens_invalidated() {
            auth_epoch::bump(&txn).await?;
        }
        txn.commit().await?;
        if ctx.tokens_invalidated() {
            self.auth_epoch.moved();
        }
        Ok(())
    }

    /// Stores how a run ended. A handler's pending writes commit in the
    /// same transaction, unless the run was cancelled or lost its claim.
    /// Returns the outcome that stands, for a caller still waiting.
    pub async fn settle(&self, claim: &Claim, ctx: &Ctx, outcome: Outcome) -> Outcome {
        let outcome = self.store_run(claim, ctx, outcome).await;
        self.waiters.known().settled(&claim.fence.request_id);
        if claim.retention.activity {
            // Activities of one queue run one at a time: the next may start
            // now, not at the claimer's next round.
            self.wake_claimer.notify_one();
        }
        outcome
    }

    async fn store_run(&self, claim: &Claim, ctx: &Ctx, outcome: Outcome) -> Outcome {
        if let Some(ran) = self.untrack(&claim.fence.request_id) {
            self.record_duration(ctx, ran);
        }
        let request_id = claim.request_id;
        let cancelled = outcome.status() == Status::Cancelled || ctx.cancellation().is_cancelled();
        let pending = ctx.take_pending_write();
        if cancelled {
            drop(pending);
            if let Some(report) = ctx.report() {
                self.save_last_report(claim, &report).await;
            }
            return self.end_cancelled(claim).await;
        }
        if let Outcome::Retry(_) = &outcome {
            // The database (or an upstream) was away: nothing of this run
            // is kept.
            drop(pending);
            tracing::warn!(%request_id, "a job could not be done now (database or upstream unavailable)");
            self.run_again_later(claim).await;
            return outcome;
        }
        let report = ctx.report();
        let applied = match pending {
            Some(txn) => {
                let end = self.final_of(request_id, claim.request_time, claim.retention, &outcome);
                let _committing = self.waiters.committing(vec![request_id.to_string()]);
                let committed = async {
                    if let Some(report) = &report {
                        store::save_report(&txn, &claim.fence, report).await?;
                    }
                    let applied = store::finish(&txn, &claim.fence, &end, true).await?;
                    if applied {
                        if claim.retention.activity {
                            outbox::record(&txn, [(request_id.to_string(), end.state)]).await?;
                        }
                        store::notify(&txn, &format!("done:{request_id}")).await?;
                        self.commit_with_effects(txn, ctx).await?;
                    }
                    Ok::<_, DbErr>(applied)
                }
                .await;
                match committed {
                    Ok(applied) => {
                        if applied {
                            self.waiters
                                .wake(&claim.fence.request_id, Some(Arc::new(end)));
                        }
                        applied
                    }
                    Err(err) => {
                        // Nothing of this run was kept.
                        tracing::error!(%request_id, error = %err, "committing a job failed");
                        self.run_again_later(claim).await;
                        return ApiError::new(
                            Status::ServiceNotAvailable,
                            "The request could not be completed now; it will run again",
                        )
                        .into();
                    }
                }
            }
            None => {
                if let Some(report) = &report {
                    self.save_last_report(claim, report).await;
                }
                let audit = audit::of_success(ctx, &outcome);
                self.store_end(claim, &outcome, true, audit).await
            }
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

    /// Feeds a run's time on this node to its route's job-duration
    /// histogram: a local action's, or an upstream path's.
    fn record_duration(&self, ctx: &Ctx, ran: Duration) {
        let action = &ctx.action;
        let key = format!("{}/{}", action.version, action.path);
        let local = self
            .routes
            .service_named(action.service)
            .and_then(|service| service.action(&key));
        match local {
            Some(route) => route.metrics.job_finished(ran),
            None => {
                if let Some(service) = self.upstreams.current().service_named(action.service) {
                    service.action(&key).metrics.job_finished(ran);
                }
            }
        }
    }

    /// Hands a run whose writes were not kept back to the queue, due once
    /// the database had time to come back (see `retry_delay`), for any
    /// node to claim.
    async fn run_again_later(&self, claim: &Claim) {
        let delay = retry_delay(claim.fence.attempt);
        tracing::warn!(request_id = %claim.request_id, attempt = claim.fence.attempt, ?delay, "the job will run again");
        self.retry(Op::Release {
            fence: claim.fence.clone(),
            retry_at: Timestamp::now_ms().saturating_add(millis(delay)),
        })
        .await;
    }

    /// Stores the outcome of a call recorded as a job just after it was
    /// answered directly.
    pub async fn finish_answered(&self, claim: &Claim, outcome: &Outcome) {
        self.untrack(&claim.fence.request_id);
        // Its caller's answer already had its audit event (`end_sync`).
        self.store_end(claim, outcome, false, None).await;
        self.waiters.known().settled(&claim.fence.request_id);
    }

    /// Stores a run's final outcome through the writer, fenced by its
    /// claim (and, if `unless_cancelled`, only if nobody cancelled it);
    /// whether it applied.
    async fn store_end(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        unless_cancelled: bool,
        audit: Option<audit_event::ActiveModel>,
    ) -> bool {
        let end = self.final_of(
            claim.request_id,
            claim.request_time,
            claim.retention,
            outcome,
        );
        let op = Op::Finish(Box::new(Finish {
            fence: claim.fence.clone(),
            end,
            unless_cancelled,
            activity: claim.retention.activity,
            audit: audit.map(Box::new),
        }));
        matches!(self.retry(op).await, Done::Applied(true))
    }

    /// Stores a run's last report before its result: a lost one would
    /// leave an activity's log short, so it is tried once more.
    async fn save_last_report(&self, claim: &Claim, report: &actiongate_service::RunReport) {
        for _ in 0..2 {
            match store::save_report(&self.db.write, &claim.fence, report).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(request_id = %claim.request_id, error = %err, "storing a job's last report failed");
                }
            }
        }
    }

    pub(super) async fn end_cancelled(&self, claim: &Claim) -> Outcome {
        let outcome = Outcome::cancelled();
        self.store_end(claim, &outcome, false, None).await;
        outcome
    }

    /// Submits `op` until it commits: a result must not be lost to a
    /// passing database error.
    pub(super) async fn retry(&self, op: Op) -> Done {
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
}

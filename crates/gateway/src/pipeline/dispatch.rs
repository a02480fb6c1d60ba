//! Phase 7: run the action: a local handler, or a call forwarded to an
//! upstream service ([`crate::upstream`]); either way:
//!
//! - Designated asynchronous: recorded as a job and answered 202 at once.
//! - With an `Idempotency-Key`: recorded as a job before it runs, then
//!   answered directly if it ends within its threshold, else 202.
//! - Otherwise synchronous: answered directly, its writes committed with
//!   its outcome. Past its threshold it is recorded as a job while it goes
//!   on, and answered 202.
//!
//! Recording always happens in a task of its own: a client hanging up
//! cannot leave a job recorded but not run.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actiongate_service::{Ctx, DecodedInput, Mode};
use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::Instrument;

use super::context::RequestCtx;
use super::replay;
use super::respond::Reply;
use crate::jobs::{ActivitySpec, Claim, JobSpec, Jobs, Work};
use crate::routes::{Action, ServiceRoutes};
use crate::upstream::forward::UpstreamCall;
use crate::upstream::table::UpstreamService;
use crate::{Gateway, Outcome};

/// A call ready to run: its record should it become a job, its context
/// and its work, and how it is run.
struct Runnable {
    job: JobSpec,
    ctx: Ctx,
    work: Work,
    mode: Mode,
    threshold: Duration,
}

/// Runs a local action.
pub async fn dispatch(
    gateway: &Gateway,
    call: &RequestCtx<'_>,
    service: &ServiceRoutes,
    action: &Action,
    body: Bytes,
    input: DecodedInput,
    idempotency_key: Option<String>,
) -> Reply {
    let grant = call.grant();
    let ctx = Ctx::new(
        call.request_id,
        action.name(service.name),
        grant.principal.clone(),
        gateway.db().clone(),
        service.state.clone(),
    )
    .with_project_scope(call.project_scope.clone())
    .with_checked_record(call.checked_project.clone());
    let work = action.run(ctx.clone(), input);
    let mut job = job_spec(
        call,
        service.name,
        action.spec.version.into(),
        action.spec.path.into(),
        body,
        idempotency_key,
        None,
    );
    job.activity = action.spec.activity.map(|kind| ActivitySpec {
        kind,
        queue_key: call.scope_record.clone(),
    });
    run(
        gateway,
        call,
        Runnable {
            job,
            ctx,
            work,
            mode: action.spec.mode,
            threshold: action.threshold,
        },
    )
    .await
}

/// Forwards a call to an upstream service (the route's `key` under it):
/// the same choices as for a local action, with the upstream call as the
/// work.
pub async fn to_upstream(
    gateway: &Gateway,
    call: &RequestCtx<'_>,
    service: &Arc<UpstreamService>,
    key: &str,
    body: Bytes,
    idempotency_key: Option<String>,
) -> Reply {
    let action = service.action(key);
    let grant = call.grant();
    let ctx = service.context(
        key,
        action,
        call.request_id,
        grant.principal.clone(),
        gateway.db().clone(),
    );
    let forwarded = Arc::new(UpstreamCall::new(
        &format!("/{key}"),
        call.parts,
        call.peer.ip(),
        gateway.config().scheme(),
        &call.trace.header(),
    ));
    let work = gateway.upstreams().work(
        service.clone(),
        action.call,
        forwarded.clone(),
        body.clone(),
        call.request_id,
        grant.principal.clone(),
    );
    let (version, path) = key.split_once('/').unwrap_or((key, ""));
    let job = job_spec(
        call,
        service.name,
        version.to_owned().into(),
        path.to_owned().into(),
        body,
        idempotency_key,
        Some(forwarded),
    );
    run(
        gateway,
        call,
        Runnable {
            job,
            ctx,
            work,
            mode: action.spec.mode,
            threshold: action.threshold,
        },
    )
    .await
}

fn job_spec(
    call: &RequestCtx<'_>,
    service: &'static str,
    version: Cow<'static, str>,
    action: Cow<'static, str>,
    body: Bytes,
    idempotency_key: Option<String>,
    upstream_call: Option<Arc<UpstreamCall>>,
) -> JobSpec {
    JobSpec {
        request_id: call.request_id,
        request_time: call.request_time,
        principal: call.grant().principal.clone(),
        scope_project_id: call.project_scope.clone(),
        service,
        version,
        action,
        input: body,
        idempotency_key,
        trace: call.trace,
        upstream_call,
        activity: None,
    }
}

async fn run(gateway: &Gateway, call: &RequestCtx<'_>, runnable: Runnable) -> Reply {
    let Runnable {
        job,
        ctx,
        work,
        mode,
        threshold,
    } = runnable;
    // The key was used by a call recorded meanwhile: answer as that call.
    // Boxed: it is rare, and would otherwise take room in every call's
    // future.
    let key_taken = || {
        let repeat = replay::Repeat {
            idempotency_key: job.idempotency_key.clone(),
            retried: Vec::new(),
        };
        let job = &job;
        Box::pin(async move {
            let called = replay::Called {
                service: job.service,
                version: &job.version,
                path: &job.action,
            };
            match replay::earlier(gateway, call, &called, &job.input, &repeat).await {
                Ok(Some(reply)) => reply,
                Ok(None) => Reply::Ended(
                    ApiError::new(
                        Status::Conflict,
                        "Another call with this Idempotency-Key was recorded at the same moment; retry",
                    )
                    .into(),
                ),
                Err(err) => Reply::Ended(err.into()),
            }
        })
    };
    let jobs = gateway.jobs().clone();
    if mode == Mode::Async {
        let spec = job.clone();
        let accepted =
            tokio::spawn(async move { jobs.accept(&spec, ctx, work).await }.in_current_span())
                .await;
        return match accepted {
            Ok(Ok(true)) => {
                Reply::accepted(gateway, call, call.request_id, call.request_time, 0, None)
            }
            Ok(Ok(false)) => key_taken().await,
            Ok(Err(err)) => not_recorded(call, err),
            Err(join) => internal(call, join),
        };
    }
    if job.idempotency_key.is_some() {
        let spec = job.clone();
        let started = tokio::spawn(
            async move {
                let claim = jobs.record_running(&spec).await?;
                Ok(claim.map(|claim| jobs.run(claim, ctx, work, None)))
            }
            .in_current_span(),
        )
        .await;
        let done = match started {
            Ok(Ok(Some(done))) => done,
            Ok(Ok(None)) => return key_taken().await,
            Ok(Err(err)) => return not_recorded(call, err),
            Err(join) => return internal(call, join),
        };
        return match tokio::time::timeout(threshold, done).await {
            Ok(Ok(outcome)) => Reply::Ended(outcome),
            _ => Reply::accepted(gateway, call, call.request_id, call.request_time, 0, None),
        };
    }
    let mut work = work;
    if let Ok(outcome) = tokio::time::timeout(threshold, &mut work).await {
        return Reply::Ended(jobs.end_sync(&job, &ctx, outcome).await);
    }
    let (decided, decision) = oneshot::channel();
    tokio::spawn(park(jobs, job, ctx, work, decided).in_current_span());
    match decision.await {
        Ok(Decision::Parked) => {
            Reply::accepted(gateway, call, call.request_id, call.request_time, 0, None)
        }
        Ok(Decision::Answered(outcome)) => Reply::Ended(outcome),
        Err(_) => Reply::Ended(ApiError::internal(call.request_id).into()),
    }
}

enum Phase {
    /// The handler runs on; the job is being recorded.
    Deciding,
    /// Recorded and answered 202: the handler's result goes to the job.
    Parked(Claim),
    /// The handler ended first: its caller gets the result directly.
    Answered,
}

enum Decision {
    Parked,
    Answered(Outcome),
}

/// Records a synchronous call that outlasted its threshold while its
/// handler goes on. The handler may hold the writer the record needs, so
/// it runs in a task of its own, and whichever ends first decides: the
/// record (202, the result goes to the job) or the handler (answered
/// directly, as if it had been quick).
async fn park(
    jobs: Arc<Jobs>,
    spec: JobSpec,
    ctx: Ctx,
    work: crate::jobs::Work,
    decided: oneshot::Sender<Decision>,
) {
    let phase = Arc::new(Mutex::new(Phase::Deciding));
    let (answer, answered) = oneshot::channel();
    let runner = tokio::spawn({
        let (jobs, spec, ctx, phase) = (jobs.clone(), spec.clone(), ctx.clone(), phase.clone());
        async move {
            let outcome = work.await;
            let parked = {
                let mut phase = phase.lock().expect("phase lock");
                match &*phase {
                    Phase::Parked(claim) => Some(claim.clone()),
                    _ => {
                        *phase = Phase::Answered;
                        None
                    }
                }
            };
            match parked {
                Some(claim) => {
                    jobs.settle(&claim, &ctx, outcome).await;
                }
                None => {
                    let outcome = jobs.end_sync(&spec, &ctx, outcome).await;
                    let _ = answer.send(outcome);
                }
            }
        }
        .in_current_span()
    });
    let recorded = jobs.record_running(&spec).await;
    {
        let mut current = phase.lock().expect("phase lock");
        if let (Phase::Deciding, Ok(Some(claim))) = (&*current, &recorded) {
            jobs.track(claim, &ctx, Some(runner.abort_handle()));
            *current = Phase::Parked(claim.clone());
            drop(current);
            let _ = decided.send(Decision::Parked);
            return;
        }
    }
    if let Err(err) = &recorded {
        tracing::warn!(request_id = %spec.request_id, error = %err, "could not record a slow call; answering it when it ends");
    }
    let outcome = answered
        .await
        .unwrap_or_else(|_| ApiError::internal(spec.request_id).into());
    if let Ok(Some(claim)) = recorded {
        // Recorded just after the handler ended: the row gets its result.
        jobs.finish_answered(&claim, &outcome).await;
    }
    let _ = decided.send(Decision::Answered(outcome));
}

/// Nothing was promised yet: the caller may retry.
fn not_recorded(call: &RequestCtx<'_>, err: sea_orm::DbErr) -> Reply {
    tracing::error!(request_id = %call.request_id, error = %err, "could not record a job");
    Reply::Ended(
        ApiError::new(
            Status::ServiceNotAvailable,
            "The request could not be recorded; nothing was done, retry shortly",
        )
        .into(),
    )
}

fn internal(call: &RequestCtx<'_>, join: tokio::task::JoinError) -> Reply {
    tracing::error!(request_id = %call.request_id, error = %join, "recording a job failed");
    Reply::Ended(ApiError::internal(call.request_id).into())
}

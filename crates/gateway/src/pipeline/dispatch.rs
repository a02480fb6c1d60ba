//! Phase 4: run the action. Designated-async actions are recorded in the
//! job table and answered 202 at once; synchronous ones are answered
//! directly unless they outlast their response-time threshold, in which
//! case they are recorded and answered 202 while the work goes on.

use std::panic::AssertUnwindSafe;

use actiongate_service::{Ctx, DecodedInput, Mode};
use actiongate_wire::ApiError;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::respond::Reply;
use super::Call;
use crate::jobs::NewJob;
use crate::routes::{Action, ServiceRoutes};
use crate::tokens::Grant;
use crate::{Gateway, Outcome};

pub async fn dispatch(
    gateway: &Gateway,
    call: &Call<'_>,
    service: &ServiceRoutes,
    action: &Action,
    grant: &Grant,
    body: Bytes,
    input: DecodedInput,
) -> Reply {
    let ctx = Ctx::new(
        call.request_id,
        grant.principal.clone(),
        gateway.db().clone(),
        service.state.clone(),
    );
    let mut work = run(action, ctx, input);
    if action.spec.mode == Mode::Sync {
        match tokio::time::timeout(action.threshold, &mut work).await {
            Ok(outcome) => return Reply::Ended(outcome),
            Err(_elapsed) => {}
        }
    }
    let job = NewJob {
        request_id: call.request_id,
        request_time: call.request_time,
        principal: grant.principal.clone(),
        service: service.name,
        version: action.spec.version,
        action: action.spec.path,
        input: body,
    };
    // Recording and starting the job happen in a task of their own, so that
    // a client hanging up meanwhile cannot leave a job recorded but not run.
    let jobs = gateway.jobs().clone();
    let parked = tokio::spawn(async move {
        match jobs.record_running(&job).await {
            Ok(()) => {
                jobs.complete_in_background(job.request_id, job.request_time, work);
                Ok(())
            }
            Err(err) => Err((err, work)),
        }
    })
    .await;
    match parked {
        Ok(Ok(())) => Reply::accepted(gateway, call, call.request_id, call.request_time, 0),
        Ok(Err((err, work))) => {
            // No 202 was sent, so nothing was promised: finish in place.
            tracing::warn!(request_id = %call.request_id, error = %err, "could not record the job; answering synchronously");
            Reply::Ended(work.await)
        }
        Err(join_error) => {
            tracing::error!(request_id = %call.request_id, error = %join_error, "recording the job failed");
            Reply::Ended(ApiError::internal(call.request_id).into())
        }
    }
}

/// The action's handler as a future of its outcome. A handler that
/// panics ends its call with `InternalError`; the gateway goes on.
pub fn run(action: &Action, ctx: Ctx, input: DecodedInput) -> BoxFuture<'static, Outcome> {
    let summary = action.spec.summary;
    let request_id = ctx.request_id;
    let work = AssertUnwindSafe(action.handler.run(ctx, input)).catch_unwind();
    Box::pin(async move {
        match work.await {
            Ok(Ok(result)) => Outcome::Success {
                summary: summary.into(),
                result,
            },
            Ok(Err(err)) => Outcome::Failure(err),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(%request_id, panic = message, "action handler panicked");
                Outcome::Failure(ApiError::internal(request_id))
            }
        }
    })
}

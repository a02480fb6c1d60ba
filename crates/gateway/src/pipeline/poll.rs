//! `GET /request/<id>[?wait=<seconds>]`: the state of a recorded request,
//! for a token that could have made it ([`super::reach`]).
//!
//! Pending: 202 with the original request id and `retry_counter`, the
//! fetches so far. Finished: the stored envelope, with the HTTP code it
//! would have had. Unknown, expired or someone else's: the same 404, so
//! nothing leaks. Past `poll_limit` fetches: `PollLimitExceeded`. With
//! `wait`, a pending request holds the connection up to that many seconds
//! (at most 30) for its result.
//!
//! A job this node runs, or has just ended, is answered from what the node
//! knows of it ([`reach::polled`]): the only statement such a poll makes is
//! its count.

use std::time::Duration;

use actiongate_entity::job;
use actiongate_wire::{ApiError, Status};

use super::context::RequestCtx;
use super::replay::{reply_for, unavailable};
use super::respond::Reply;
use super::{authenticate, rate_limit, reach};
use crate::trace::TraceContext;
use crate::Gateway;

/// The longest a poll may wait.
pub const MAX_WAIT_SECS: u64 = 30;

pub async fn answer(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    id_text: &str,
) -> Result<Reply, ApiError> {
    ctx.grant = Some(authenticate::bearer(gateway, ctx).await?);
    let wait = wait(ctx.parts.uri.query())?;
    let jobs = gateway.jobs();
    // Registered before the job is looked at, so an end stored in between
    // still wakes this poll, and that look is the only one before the wait.
    let registration = (!wait.is_zero()).then(|| jobs.register_wait(id_text));
    let row = reach::polled(gateway, ctx, id_text).await?;
    rate_limit::check_request(gateway, ctx, &row.service)?;
    // The fetch is counted before anything is answered, so a caller's next
    // fetch sees it; the count stored is the one the limit weighs.
    let Some(fetches) = jobs
        .count_poll(&row.request_id)
        .await
        .map_err(unavailable)?
    else {
        // Removed since it was looked at: its result expired.
        return Err(reach::not_found(id_text));
    };
    let limit = jobs.settings().poll_limit;
    if u32::try_from(fetches).unwrap_or(u32::MAX) > limit {
        return Err(ApiError::new(
            Status::PollLimitExceeded,
            format!("Request {id_text} was fetched more than {limit} times; no more answers are given for it"),
        ));
    }
    let row = match registration {
        Some(registration) if row.response.is_none() => jobs
            .wait_final(id_text, row, wait, registration)
            .await
            .map_err(unavailable)?,
        _ => row,
    };
    if row.response.is_some() {
        jobs.answered(&row.request_id);
    }
    let row = job::Model {
        poll_count: fetches,
        ..row
    };
    ctx.answer_trace = row.traceparent.as_deref().and_then(TraceContext::parse);
    Ok(reply_for(gateway, ctx, &row))
}

/// `wait=<seconds>` from the query string; longer waits are cut to 30 s.
fn wait(query: Option<&str>) -> Result<Duration, ApiError> {
    let value = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("wait="));
    let Some(value) = value else {
        return Ok(Duration::ZERO);
    };
    let secs: u64 = value.parse().map_err(|_| {
        ApiError::invalid_field(
            "query:wait",
            "InvalidValue",
            format!("wait is a whole number of seconds, 0 to {MAX_WAIT_SECS}"),
        )
    })?;
    Ok(Duration::from_secs(secs.min(MAX_WAIT_SECS)))
}

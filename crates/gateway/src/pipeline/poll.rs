//! `GET /request/<id>[?wait=<seconds>]`: the state of a recorded request,
//! for a token that could have made it ([`super::reach`]).
//!
//! Pending: 202 with the original request id and `retry_counter`, the
//! fetches so far. Finished: the stored envelope, with the HTTP code it
//! would have had. Unknown, expired or someone else's: the same 404, so
//! nothing leaks. Past `poll_limit` fetches: `PollLimitExceeded`. With
//! `wait`, a pending request holds the connection up to that many seconds
//! (at most 30) for its result.

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
    // Registered before the row is read, so a result stored in between
    // still wakes this poll, and the row read below is the only look
    // before the wait.
    let registration = (!wait.is_zero()).then(|| jobs.register_wait(id_text));
    let row = reach::recorded(gateway, ctx, id_text).await?;
    rate_limit::check_request(gateway, ctx, &row.service)?;
    // The fetch is counted while the poll waits; the answer goes out only
    // once the count is stored, so a caller's next fetch sees it.
    let fetches = row.poll_count.saturating_add(1);
    let limit = jobs.settings().poll_limit;
    let request_id = row.request_id.clone();
    let counted = jobs.count_poll(&request_id);
    if u32::try_from(fetches).unwrap_or(u32::MAX) > limit {
        counted.await.map_err(unavailable)?;
        return Err(ApiError::new(
            Status::PollLimitExceeded,
            format!("Request {id_text} was fetched more than {limit} times; no more answers are given for it"),
        ));
    }
    let waited = async {
        match registration {
            Some(registration) if row.response.is_none() => {
                jobs.wait_final(id_text, row, wait, registration).await
            }
            _ => Ok(row),
        }
    };
    let (counted, waited) = tokio::join!(counted, waited);
    counted.map_err(unavailable)?;
    let row = job::Model {
        poll_count: fetches,
        ..waited.map_err(unavailable)?
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

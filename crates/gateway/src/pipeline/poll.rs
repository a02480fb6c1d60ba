//! `GET /request/<id>`: the state of a parked request, for its owner.
//!
//! Pending: 202 with the original request id and a count of polls so far.
//! Finished: the stored envelope, with the HTTP code it would have had.
//! Unknown, expired or someone else's: the same 404, so nothing leaks.

use actiongate_wire::{ApiError, RequestId, Status, Timestamp};

use super::respond::Reply;
use super::{authenticate, Call};
use crate::Gateway;

pub async fn answer(gateway: &Gateway, call: &Call<'_>, id_text: &str) -> Result<Reply, ApiError> {
    let grant = authenticate::bearer(gateway.tokens(), &call.parts.headers).await?;
    let not_found = || {
        ApiError::new(
            Status::ResourceNotFound,
            format!("No request {id_text:?} is known to this caller; its result may have expired"),
        )
    };
    let request_id = RequestId::parse(id_text).map_err(|_| not_found())?;
    let job = gateway
        .jobs()
        .find_live(&request_id)
        .await
        .map_err(store_unavailable)?
        .filter(|job| {
            job.user_id == grant.principal.user_id && job.org_id == grant.principal.org_id
        })
        .ok_or_else(not_found)?;
    if let (Some(body), Some(http_code)) = (&job.response, job.http_code) {
        return Ok(Reply::Stored {
            request_id,
            http_code: u16::try_from(http_code).unwrap_or(500),
            body: body.clone().into_bytes(),
        });
    }
    let polls = gateway
        .jobs()
        .count_poll(&job)
        .await
        .map_err(store_unavailable)?;
    Ok(Reply::accepted(
        gateway,
        call,
        request_id,
        Timestamp::from_unix_ms(job.request_time),
        u64::try_from(polls).unwrap_or(0),
    ))
}

fn store_unavailable(err: sea_orm::DbErr) -> ApiError {
    tracing::error!(error = %err, "job table unavailable");
    ApiError::new(
        Status::ServiceNotAvailable,
        "The job table is unavailable; poll again shortly",
    )
}

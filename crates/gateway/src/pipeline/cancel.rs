//! `POST /request/cancel {"request_id": "prq_..."}`: a caller cancels a
//! pending or running request its token could have made
//! ([`super::reach`]).
//!
//! A queued request is cancelled at once. A running one is asked to stop:
//! its handler sees it at its next checkpoint, and whatever it wrote is
//! discarded unless its result was already stored. Either way, polls then
//! answer `Cancelled`. A finished request is `Conflict`; unknown, expired
//! or someone else's is `ResourceNotFound`.

use actiongate_service::decode_body;
use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::context::RequestCtx;
use super::replay::unavailable;
use super::{authenticate, rate_limit, reach};
use crate::jobs::Cancelled;
use crate::{Gateway, Outcome};

#[derive(Deserialize)]
struct CancelInput {
    request_id: String,
}

#[derive(Serialize)]
struct CancelOutput<'a> {
    request_id: &'a str,
    /// `cancelled`, or `cancelling` until the handler stops.
    state: &'static str,
}

pub async fn answer(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    body: Bytes,
) -> Result<Outcome, ApiError> {
    ctx.grant = Some(authenticate::bearer(gateway, ctx).await?);
    let input: CancelInput = decode_body(&body)?;
    let row = reach::recorded(gateway, ctx, &input.request_id).await?;
    rate_limit::check_request(gateway, ctx, &row.service)?;
    let (summary, state) = match gateway.jobs().cancel(&row).await.map_err(unavailable)? {
        Cancelled::Now => ("Request cancelled", "cancelled"),
        Cancelled::Requested => (
            "Cancellation requested; the request stops at its next checkpoint",
            "cancelling",
        ),
        Cancelled::AlreadyFinished(state) => {
            return Err(ApiError::new(
                Status::Conflict,
                format!(
                    "Request {} already finished ({state}); its result stands",
                    input.request_id
                ),
            ))
        }
    };
    let output = CancelOutput {
        request_id: &input.request_id,
        state,
    };
    Ok(Outcome::Success {
        summary: summary.into(),
        result: serde_json::value::to_raw_value(&output).expect("JSON values serialize"),
        kept: None,
    })
}

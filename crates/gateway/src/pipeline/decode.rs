//! Phase 3: read the body within the size limit. Decoding into the typed
//! input is the action's own (`ErasedAction::decode`), called right after.

use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

/// The body's bytes; for a REST-style `GET .../<id>`, `{"id": <id>}`.
pub async fn read_body(
    body: Incoming,
    parts: &Parts,
    limit: u64,
    rest_id: Option<&str>,
) -> Result<Bytes, ApiError> {
    if let Some(id) = rest_id {
        let json = serde_json::json!({ "id": id });
        return Ok(Bytes::from(
            serde_json::to_vec(&json).expect("JSON values serialize"),
        ));
    }
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit_usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large(limit)),
        Err(_) => Err(ApiError::new(
            Status::InvalidPayloadReceived,
            "The request body ended before it was complete",
        )),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        Status::PayloadTooLarge,
        format!("The request body is larger than the limit of {limit} bytes"),
    )
}

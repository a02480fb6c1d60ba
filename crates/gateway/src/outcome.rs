//! How a call ended, and its rendering as the six-key envelope.

use std::borrow::Cow;

use actiongate_service::{is_transient, Transient};
use actiongate_wire::{ApiError, Envelope, RequestId, Status, Timestamp};
use sea_orm::DbErr;
use serde_json::value::RawValue;

/// The end of a call: what goes into `status`, `summary` and `result`.
pub enum Outcome {
    Success {
        summary: Cow<'static, str>,
        result: Box<RawValue>,
        /// The result as the gateway keeps it, when that differs from the
        /// answer: without the fields an action shows once
        /// ([`actiongate_service::ActionSpec::shows_once`]).
        kept: Option<Box<RawValue>>,
    },
    Failure(ApiError),
    /// Nothing was done, and trying later may succeed: the database was
    /// briefly away (see [`actiongate_service::is_transient`]), or no
    /// target of an upstream service could be reached. Answered
    /// `ServiceNotAvailable`, and never stored as a job's final answer;
    /// the job runs again.
    Retry(ApiError),
    /// An upstream service's own envelope, passed on with its status and
    /// HTTP code (see [`crate::upstream::answer`]).
    Relayed(Box<Relayed>),
}

/// An upstream's envelope: its `status` may be one the gateway's table
/// does not know, and its HTTP code is its own.
pub struct Relayed {
    pub status: String,
    pub http_code: u16,
    pub summary: String,
    pub result: Box<RawValue>,
    /// The upstream's own `request_id`, sent as `x-upstream-request-id`.
    pub upstream_request_id: Option<String>,
    /// The upstream's `Retry-After`, passed on.
    pub retry_after: Option<String>,
}

impl Outcome {
    /// How a cancelled request ends.
    pub fn cancelled() -> Self {
        Outcome::Failure(ApiError::new(
            Status::Cancelled,
            "The request was cancelled by its caller",
        ))
    }

    /// How a handler's database error ends its call: `Retry` when the
    /// database is only briefly away, else `InternalError` (the cause is
    /// logged with the request id; the caller sees only the id).
    pub fn from_db_error(request_id: RequestId, err: &DbErr) -> Self {
        let answer = unavailable_db(request_id, err);
        if answer.status == Status::ServiceNotAvailable {
            Outcome::Retry(answer)
        } else {
            Outcome::Failure(answer)
        }
    }

    /// The status as the gateway counts it (see [`counted_status`]).
    pub fn status(&self) -> Status {
        match self {
            Outcome::Success { .. } => Status::Success,
            Outcome::Failure(err) | Outcome::Retry(err) => err.status,
            Outcome::Relayed(relayed) => counted_status(&relayed.status, relayed.http_code),
        }
    }

    /// The HTTP code the answer is sent with.
    pub fn http_code(&self) -> u16 {
        match self {
            Outcome::Relayed(relayed) => relayed.http_code,
            _ => self.status().http_code(),
        }
    }

    /// The envelope as JSON bytes, as the caller is answered.
    pub fn render(
        &self,
        request_id: RequestId,
        request_time: Timestamp,
        response_time: Timestamp,
    ) -> Vec<u8> {
        self.render_as(request_id, request_time, response_time, false)
    }

    /// The envelope as JSON bytes, as the gateway keeps it for polls and
    /// replays: without what the action shows once.
    pub fn render_kept(
        &self,
        request_id: RequestId,
        request_time: Timestamp,
        response_time: Timestamp,
    ) -> Vec<u8> {
        self.render_as(request_id, request_time, response_time, true)
    }

    fn render_as(
        &self,
        request_id: RequestId,
        request_time: Timestamp,
        response_time: Timestamp,
        kept: bool,
    ) -> Vec<u8> {
        let (summary, result): (Cow<'static, str>, Cow<'_, RawValue>) = match self {
            Outcome::Success {
                summary,
                result,
                kept: kept_result,
            } => {
                let result = match kept_result {
                    Some(kept_result) if kept => kept_result,
                    _ => result,
                };
                (summary.clone(), Cow::Borrowed(&**result))
            }
            Outcome::Failure(err) | Outcome::Retry(err) => (
                Cow::Owned(err.summary.clone()),
                Cow::Owned(
                    serde_json::value::to_raw_value(&err.result()).expect("JSON values serialize"),
                ),
            ),
            Outcome::Relayed(relayed) => {
                return render_relayed(relayed, request_id, request_time, response_time)
            }
        };
        let envelope = Envelope {
            request_id,
            request_time,
            response_time,
            status: self.status(),
            summary,
            result: &*result,
        };
        serde_json::to_vec(&envelope).expect("envelopes serialize")
    }
}

/// A status as the gateway counts it: its own, or for one an upstream
/// spelled that the table does not know, `Success` for a 2xx, else
/// `ProviderError`.
pub fn counted_status(status: &str, http_code: u16) -> Status {
    Status::from_wire(status).unwrap_or(if (200..300).contains(&http_code) {
        Status::Success
    } else {
        Status::ProviderError
    })
}

/// The six keys, with the upstream's status as it spelled it.
fn render_relayed(
    relayed: &Relayed,
    request_id: RequestId,
    request_time: Timestamp,
    response_time: Timestamp,
) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct RelayedEnvelope<'a> {
        request_id: RequestId,
        request_time: Timestamp,
        response_time: Timestamp,
        status: &'a str,
        summary: &'a str,
        result: &'a RawValue,
    }
    serde_json::to_vec(&RelayedEnvelope {
        request_id,
        request_time,
        response_time,
        status: &relayed.status,
        summary: &relayed.summary,
        result: &relayed.result,
    })
    .expect("envelopes serialize")
}

impl From<ApiError> for Outcome {
    fn from(err: ApiError) -> Self {
        Outcome::Failure(err)
    }
}

/// A database error as the caller sees it: `ServiceNotAvailable` while
/// the database is briefly away, else `InternalError` naming only the
/// request id. The cause goes to the log either way.
pub fn unavailable_db(request_id: RequestId, err: &DbErr) -> ApiError {
    match is_transient(err) {
        Some(why) => {
            tracing::warn!(%request_id, error = %err, "the database is unavailable");
            unavailable(why)
        }
        None => {
            tracing::error!(%request_id, error = %err, "database error");
            ApiError::internal(request_id)
        }
    }
}

/// The answer while the database is away: the caller may retry (the
/// response carries `Retry-After`), and nothing it asked for was lost.
pub fn unavailable(why: Transient) -> ApiError {
    let summary = match why {
        Transient::Unavailable => "The database is unavailable; retry shortly",
        Transient::StorageFull => "The database's storage is full; retry once space is freed",
    };
    ApiError::new(Status::ServiceNotAvailable, summary)
}

/// `result` with `null` at each of `pointers`: what is kept of a result
/// whose fields there are shown once. A result it cannot read is kept as
/// `null` whole, never as it was.
pub fn without_shown_once(result: &RawValue, pointers: &[&str]) -> Box<RawValue> {
    let mut value: serde_json::Value =
        serde_json::from_str(result.get()).unwrap_or(serde_json::Value::Null);
    for pointer in pointers {
        if let Some(field) = value.pointer_mut(pointer) {
            *field = serde_json::Value::Null;
        }
    }
    serde_json::value::to_raw_value(&value).expect("JSON values serialize")
}

#[cfg(test)]
mod shown_once_tests {
    use super::*;

    #[test]
    fn fields_shown_once_are_kept_as_null() {
        let result =
            RawValue::from_string(r#"{"id":"tok_1","secret":"agt_x","n":{"k":1}}"#.into()).unwrap();
        let kept = without_shown_once(&result, &["/secret", "/n/k", "/absent"]);
        let kept: serde_json::Value = serde_json::from_str(kept.get()).unwrap();
        assert_eq!(
            kept,
            serde_json::json!({ "id": "tok_1", "secret": null, "n": { "k": null } })
        );
    }
}

//! How a call ended, and its rendering as the six-key envelope.

use std::borrow::Cow;

use actiongate_wire::{ApiError, Envelope, RequestId, Status, Timestamp};
use serde_json::value::RawValue;

/// The end of a call: what goes into `status`, `summary` and `result`.
pub enum Outcome {
    Success {
        summary: Cow<'static, str>,
        result: Box<RawValue>,
    },
    Failure(ApiError),
}

impl Outcome {
    /// How a cancelled request ends.
    pub fn cancelled() -> Self {
        Outcome::Failure(ApiError::new(
            Status::Cancelled,
            "The request was cancelled by its caller",
        ))
    }

    pub fn status(&self) -> Status {
        match self {
            Outcome::Success { .. } => Status::Success,
            Outcome::Failure(err) => err.status,
        }
    }

    /// The envelope as JSON bytes.
    pub fn render(
        &self,
        request_id: RequestId,
        request_time: Timestamp,
        response_time: Timestamp,
    ) -> Vec<u8> {
        let (summary, result): (Cow<'static, str>, Cow<'_, RawValue>) = match self {
            Outcome::Success { summary, result } => (summary.clone(), Cow::Borrowed(&**result)),
            Outcome::Failure(err) => (
                Cow::Owned(err.summary.clone()),
                Cow::Owned(
                    serde_json::value::to_raw_value(&err.result()).expect("JSON values serialize"),
                ),
            ),
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

impl From<ApiError> for Outcome {
    fn from(err: ApiError) -> Self {
        Outcome::Failure(err)
    }
}

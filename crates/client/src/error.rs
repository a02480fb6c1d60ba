//! Why a call did not succeed: the transport, a body that is not an
//! envelope, a wait that ran out, or the gateway's own answer, one variant
//! per kind of status so that a caller matches on what it can act on.

use std::fmt;
use std::time::Duration;

use actiongate_wire::{FieldError, RequestId, Status};

use crate::Reply;

/// An error answer, as the envelope gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The exact status, for a caller that needs more than the variant.
    pub status: Status,
    pub summary: String,
    pub request_id: RequestId,
    /// The fields the gateway refused (`result.errors`), each by pointer.
    pub errors: Vec<FieldError>,
    /// How long the gateway asked to wait before trying again.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (request {})",
            self.status.as_str(),
            self.summary,
            self.request_id
        )?;
        for error in &self.errors {
            write!(f, "; {}: {}", error.source, error.detail)?;
        }
        Ok(())
    }
}

/// Why a call produced no result.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("HTTP request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error("HTTP {status}: the body is not an envelope ({error}): {body}")]
    NotAnEnvelope {
        status: u16,
        body: String,
        error: serde_json::Error,
    },
    #[error("request {0} was still running when the wait ended")]
    StillRunning(RequestId),
    /// A `Success` whose `result` is not the action's declared output: a
    /// client and a gateway of different releases.
    #[error("request {request_id}: the result is not of the declared type: {error}")]
    UnexpectedResult {
        request_id: RequestId,
        error: serde_json::Error,
    },
    /// The call is wrong as sent: its parameters, its body, its route, or
    /// an `Idempotency-Key` already used for another call. Not worth
    /// retrying as it is.
    #[error("{0}")]
    Invalid(Failure),
    /// No token, or one that is unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(Failure),
    /// The token may not do this, or not in this service.
    #[error("{0}")]
    Forbidden(Failure),
    /// No such route, or no such record that the token may see.
    #[error("{0}")]
    NotFound(Failure),
    /// The record conflicts with another, was changed meanwhile, is in use,
    /// or the call was cancelled.
    #[error("{0}")]
    Conflict(Failure),
    /// Rate-limited, or polled too often; `retry_after` says when to return.
    #[error("{0}")]
    TooManyRequests(Failure),
    /// The gateway or its database was briefly away, after every retry.
    #[error("{0}")]
    Unavailable(Failure),
    /// An upstream provider failed or timed out.
    #[error("{0}")]
    Provider(Failure),
    /// A fault of the gateway's; the summary names the request to report.
    #[error("{0}")]
    Internal(Failure),
    /// A success status where an error was expected; never sent by a
    /// gateway that keeps the protocol.
    #[error("{0}")]
    Unexpected(Failure),
}

impl Error {
    /// The error a non-success envelope stands for.
    pub fn from_reply(reply: Reply) -> Error {
        let errors = reply
            .envelope
            .result
            .get("errors")
            .cloned()
            .and_then(|errors| serde_json::from_value(errors).ok())
            .unwrap_or_default();
        let failure = Failure {
            status: reply.envelope.status,
            summary: reply.envelope.summary.into_owned(),
            request_id: reply.envelope.request_id,
            errors,
            retry_after: reply.retry_after,
        };
        // One arm per status, so a status added to the table must be
        // placed here before the client compiles.
        match failure.status {
            Status::ValidationError
            | Status::InvalidPayloadReceived
            | Status::AmbiguousRoute
            | Status::MethodNotAllowed
            | Status::RequestTimeout
            | Status::PayloadTooLarge
            | Status::IdempotencyKeyReused => Error::Invalid(failure),
            Status::Unauthorized => Error::Unauthorized(failure),
            Status::ServiceNotEnabled | Status::Forbidden => Error::Forbidden(failure),
            Status::NotFound | Status::ResourceNotFound => Error::NotFound(failure),
            Status::Conflict | Status::ResourceInUse | Status::Cancelled => {
                Error::Conflict(failure)
            }
            Status::PollLimitExceeded | Status::TooManyRequests => Error::TooManyRequests(failure),
            Status::ServiceNotAvailable => Error::Unavailable(failure),
            Status::ProviderError | Status::ProviderTimeout => Error::Provider(failure),
            Status::InternalError => Error::Internal(failure),
            Status::Success | Status::Accepted => Error::Unexpected(failure),
        }
    }

    /// The gateway's answer, when the error is one.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Invalid(f)
            | Error::Unauthorized(f)
            | Error::Forbidden(f)
            | Error::NotFound(f)
            | Error::Conflict(f)
            | Error::TooManyRequests(f)
            | Error::Unavailable(f)
            | Error::Provider(f)
            | Error::Internal(f)
            | Error::Unexpected(f) => Some(f),
            Error::Http(_)
            | Error::NotAnEnvelope { .. }
            | Error::StillRunning(_)
            | Error::UnexpectedResult { .. } => None,
        }
    }

    /// The envelope's status, when the gateway answered.
    pub fn status(&self) -> Option<Status> {
        self.failure().map(|f| f.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actiongate_wire::{Envelope, Timestamp};
    use serde_json::json;

    fn reply(status: Status, result: serde_json::Value) -> Reply {
        Reply {
            http_status: status.http_code(),
            request_id_header: None,
            retry_after: None,
            envelope: Envelope {
                request_id: RequestId::new(),
                request_time: Timestamp::now(),
                response_time: Timestamp::now(),
                status,
                summary: "no".into(),
                result,
            },
        }
    }

    #[test]
    fn every_error_status_has_its_variant_and_keeps_the_status() {
        for &status in Status::ALL {
            let error = Error::from_reply(reply(status, serde_json::Value::Null));
            assert_eq!(error.status(), Some(status));
            let unexpected = matches!(error, Error::Unexpected(_));
            assert_eq!(unexpected, status.http_code() < 300, "{status:?}");
        }
    }

    #[test]
    fn field_errors_come_from_the_result() {
        let error = Error::from_reply(reply(
            Status::ValidationError,
            json!({ "errors": [{ "code": "MissingField", "detail": "missing", "source": "/name" }] }),
        ));
        let Error::Invalid(failure) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(failure.errors[0].source, "/name");
        assert!(error.to_string().contains("/name: missing"), "{error}");
    }
}

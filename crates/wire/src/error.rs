//! The error every layer returns: a [`Status`], a summary that says what to
//! fix, and field-level errors that point into the request body.

use serde::{Deserialize, Serialize};

use crate::Status;

/// One problem with one field of the request, located by JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldError {
    /// A short machine code: `MissingField`, `InvalidType`, `InvalidValue`...
    pub code: String,
    /// What is wrong, for a person.
    pub detail: String,
    /// A JSON pointer (RFC 6901) to the field in the request body.
    pub source: String,
}

/// A failed call, as it is written into the envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: Status,
    pub summary: String,
    pub errors: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        ApiError {
            status,
            summary: summary.into(),
            errors: Vec::new(),
        }
    }

    /// A `ValidationError` about one field.
    pub fn invalid_field(source: impl Into<String>, code: &str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        let source = source.into();
        ApiError {
            status: Status::ValidationError,
            summary: format!("Invalid parameter {source}: {detail}"),
            errors: vec![FieldError {
                code: code.to_owned(),
                detail,
                source,
            }],
        }
    }

    /// A record that does not exist, or that the caller may not see: the
    /// two are reported identically so that existence does not leak.
    pub fn not_found(kind: &str, id: &str) -> Self {
        ApiError::new(
            Status::ResourceNotFound,
            format!("No {kind} with id {id:?} exists"),
        )
    }

    /// The caller may not do this: `Forbidden`, saying why.
    pub fn forbidden(summary: impl Into<String>) -> Self {
        ApiError::new(Status::Forbidden, summary)
    }

    pub fn conflict(summary: impl Into<String>) -> Self {
        ApiError::new(Status::Conflict, summary)
    }

    /// The same error, pointing at the field it is about: the summary
    /// becomes that field error's detail.
    pub fn at(mut self, source: impl Into<String>, code: &str) -> Self {
        self.errors.push(FieldError {
            code: code.to_owned(),
            detail: self.summary.clone(),
            source: source.into(),
        });
        self
    }

    /// An unexpected failure. The summary names the request id and never the
    /// cause; the cause goes to the log.
    pub fn internal(request_id: impl std::fmt::Display) -> Self {
        ApiError::new(
            Status::InternalError,
            format!("Internal error while handling request {request_id}; the gateway log has the details"),
        )
    }

    /// The envelope's `result` for this error: `{"errors": [...]}` when
    /// there are field errors, else `null`.
    pub fn result(&self) -> serde_json::Value {
        if self.errors.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::json!({ "errors": self.errors })
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.summary)
    }
}

impl std::error::Error for ApiError {}

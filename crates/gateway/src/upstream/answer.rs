//! An upstream's answer as the gateway's outcome.
//!
//! - An envelope (a JSON object with `status` and `result`) keeps its
//!   status, summary, result and HTTP code; its `request_id` goes to
//!   `x-upstream-request-id`.
//! - Any other JSON on a 2xx is `Success`, with the body as `result`.
//! - Any other 4xx maps by its code (400 and 422 `ValidationError`, 403
//!   `Forbidden`, 404 and 410 `ResourceNotFound`, 409 `Conflict`, 413
//!   `PayloadTooLarge`, 429 `TooManyRequests` with its `Retry-After`, 401
//!   `ProviderError`: the upstream refused the gateway, not the caller).
//! - 5xx, 3xx and bodies that are not JSON are `ProviderError`.
//! - A 202 with a `Location`, or an `Accepted` envelope with a
//!   `result.location`, is still running there: the gateway polls it.
//!
//! Summaries name the upstream service, never its address.

use std::time::Duration;

use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use http::header::{LOCATION, RETRY_AFTER};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::outcome::{Outcome, Relayed};

/// What an upstream's answer means for the call.
pub enum Answer {
    Final(Outcome),
    /// Still running upstream: poll `location` (as the upstream wrote it),
    /// after `retry_after` if it said.
    Pending {
        location: String,
        retry_after: Option<Duration>,
    },
}

/// An envelope's keys, as far as the gateway reads them.
#[derive(Deserialize)]
struct UpstreamEnvelope<'a> {
    #[serde(borrow)]
    status: std::borrow::Cow<'a, str>,
    #[serde(default)]
    summary: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    result: Box<RawValue>,
}

#[derive(Deserialize)]
struct AcceptedResult {
    location: Option<String>,
}

pub fn map(service: &str, code: StatusCode, headers: &HeaderMap, body: &Bytes) -> Answer {
    let retry_after = retry_after(headers);
    if code == StatusCode::ACCEPTED {
        if let Some(location) = headers.get(LOCATION).and_then(|l| l.to_str().ok()) {
            return Answer::Pending {
                location: location.to_owned(),
                retry_after,
            };
        }
    }
    let body = if body.is_empty() && code.is_success() {
        // 204 and the like: nothing to say beyond success.
        &Bytes::from_static(b"{}")
    } else {
        body
    };
    let Ok(json) = serde_json::from_slice::<&RawValue>(body) else {
        return Answer::Final(provider_error(format!(
            "The {service} service answered {} with a body that is not JSON",
            code.as_u16()
        )));
    };
    if let Ok(envelope) = serde_json::from_str::<UpstreamEnvelope>(json.get()) {
        if envelope.status == "Accepted" {
            let location = serde_json::from_str::<AcceptedResult>(envelope.result.get())
                .ok()
                .and_then(|result| result.location);
            if let Some(location) = location {
                return Answer::Pending {
                    location,
                    retry_after,
                };
            }
        }
        return Answer::Final(Outcome::Relayed(Box::new(Relayed {
            status: envelope.status.into_owned(),
            http_code: code.as_u16(),
            summary: envelope.summary.unwrap_or_default(),
            result: envelope.result,
            upstream_request_id: envelope.request_id,
            retry_after: retry_after_header(headers),
        })));
    }
    if code.is_success() {
        return Answer::Final(Outcome::Success {
            summary: "Success".into(),
            result: json.to_owned(),
            kept: None,
        });
    }
    Answer::Final(by_code(service, code, headers))
}

/// A 3xx, 4xx or 5xx answer that is not an envelope.
fn by_code(service: &str, code: StatusCode, headers: &HeaderMap) -> Outcome {
    let status = match code.as_u16() {
        400 | 422 => Status::ValidationError,
        403 => Status::Forbidden,
        404 | 410 => Status::ResourceNotFound,
        409 => Status::Conflict,
        413 => Status::PayloadTooLarge,
        429 => {
            return Outcome::Relayed(Box::new(Relayed {
                status: Status::TooManyRequests.as_str().to_owned(),
                http_code: 429,
                summary: format!(
                    "The {service} service is receiving too many requests; retry later"
                ),
                result: RawValue::from_string("{}".into()).expect("{} is JSON"),
                upstream_request_id: None,
                retry_after: retry_after_header(headers),
            }))
        }
        401 => {
            return provider_error(format!(
                "The {service} service refused the gateway's credentials"
            ))
        }
        400..=499 => Status::ValidationError,
        _ => return provider_error(format!("The {service} service failed ({})", code.as_u16())),
    };
    let reason = code.canonical_reason().unwrap_or("error");
    ApiError::new(
        status,
        format!("The {service} service answered {} {reason}", code.as_u16()),
    )
    .into()
}

pub fn provider_error(summary: String) -> Outcome {
    ApiError::new(Status::ProviderError, summary).into()
}

/// `Retry-After` in seconds (an HTTP date is not followed; the default
/// backoff applies).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn retry_after_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.len() <= 64)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn final_of(code: u16, body: &str) -> Outcome {
        match map(
            "billing",
            StatusCode::from_u16(code).unwrap(),
            &HeaderMap::new(),
            &Bytes::from(body.to_owned()),
        ) {
            Answer::Final(outcome) => outcome,
            Answer::Pending { .. } => panic!("not pending"),
        }
    }

    #[test]
    fn envelopes_keep_their_status_and_code() {
        let outcome = final_of(
            418,
            r#"{"request_id":"up_1","status":"NoCredit","summary":"Out","result":{"n":1}}"#,
        );
        let Outcome::Relayed(relayed) = &outcome else {
            panic!("relayed")
        };
        assert_eq!(relayed.status, "NoCredit");
        assert_eq!(relayed.http_code, 418);
        assert_eq!(relayed.result.get(), r#"{"n":1}"#);
        assert_eq!(relayed.upstream_request_id.as_deref(), Some("up_1"));
        assert_eq!(outcome.status(), Status::ProviderError);
    }

    #[test]
    fn plain_answers_map_by_code() {
        assert_eq!(final_of(200, r#"[1,2]"#).status(), Status::Success);
        assert_eq!(final_of(204, "").status(), Status::Success);
        assert_eq!(final_of(422, "{}").status(), Status::ValidationError);
        assert_eq!(final_of(404, "{}").status(), Status::ResourceNotFound);
        assert_eq!(final_of(409, "{}").status(), Status::Conflict);
        assert_eq!(final_of(413, "{}").status(), Status::PayloadTooLarge);
        assert_eq!(final_of(429, "{}").status(), Status::TooManyRequests);
        assert_eq!(final_of(401, "{}").status(), Status::ProviderError);
        assert_eq!(final_of(500, "{}").status(), Status::ProviderError);
        assert_eq!(final_of(200, "<html>").status(), Status::ProviderError);
    }

    #[test]
    fn accepted_answers_are_polled() {
        let body = Bytes::from_static(
            br#"{"request_id":"x","status":"Accepted","summary":"","result":{"location":"/poll/1"}}"#,
        );
        assert!(matches!(
            map("billing", StatusCode::ACCEPTED, &HeaderMap::new(), &body),
            Answer::Pending { location, .. } if location == "/poll/1"
        ));
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, "/jobs/7".parse().unwrap());
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        assert!(matches!(
            map("billing", StatusCode::ACCEPTED, &headers, &Bytes::new()),
            Answer::Pending { location, retry_after: Some(d) } if location == "/jobs/7" && d.as_secs() == 3
        ));
    }
}

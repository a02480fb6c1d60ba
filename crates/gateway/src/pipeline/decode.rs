//! Phase 4: read the body within its limits: its size, the request
//! deadline, and JSON nesting depth. A `multipart/form-data` body, for an
//! action that takes files, becomes one JSON object ([`crate::multipart`]).
//! Decoding into the typed input is the action's own
//! (`ErasedAction::decode`), called right after.

use actiongate_wire::{ApiError, Status};
use bytes::Bytes;
use http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;

use crate::json_depth::check_depth;
use crate::{multipart, Config};

/// The body's bytes, read within the size limit and before the request's
/// deadline, and nested no deeper than `json_depth`; for a REST-style
/// `GET .../<id>`, `{"id": <id>}`. `accepts_files`: whether a
/// multipart body is taken.
pub async fn read_body(
    body: Incoming,
    parts: &Parts,
    config: &Config,
    rest_id: Option<&str>,
    accepts_files: bool,
) -> Result<Bytes, ApiError> {
    let boundary = match rest_id {
        Some(_) => None,
        None => check_content_type(parts, accepts_files)?,
    };
    let bytes = read_in_time(body, parts, config, rest_id).await?;
    if let Some(boundary) = boundary {
        return multipart::to_json(bytes, &boundary, config.limits.json_depth).await;
    }
    check_depth(&bytes, config.limits.json_depth)?;
    Ok(bytes)
}

/// The body of a call to an upstream service, within the same limits,
/// to be forwarded as it is: JSON (nested no deeper than `json_depth`) or
/// multipart, never re-encoded.
pub async fn read_forwarded(
    body: Incoming,
    parts: &Parts,
    config: &Config,
) -> Result<Bytes, ApiError> {
    let multipart = check_content_type(parts, true)?.is_some();
    let bytes = read_in_time(body, parts, config, None).await?;
    if !multipart {
        check_depth(&bytes, config.limits.json_depth)?;
    }
    Ok(bytes)
}

/// The bytes, within the size limit and the request's deadline.
async fn read_in_time(
    body: Incoming,
    parts: &Parts,
    config: &Config,
    rest_id: Option<&str>,
) -> Result<Bytes, ApiError> {
    let deadline = config.limits.request_deadline;
    tokio::time::timeout(
        deadline,
        read_limited(body, parts, config.body_limit, rest_id),
    )
    .await
    .map_err(|_| {
        ApiError::new(
            Status::RequestTimeout,
            format!(
                "The request body did not arrive within {} s",
                deadline.as_secs_f32()
            ),
        )
    })?
}

/// Bodies are JSON, or multipart for actions that take files (then its
/// boundary is returned): a `Content-Type` naming anything else is refused
/// before the body is read. No type at all is taken as JSON, and so is
/// `application/x-www-form-urlencoded`, which `curl -d` sends by default.
fn check_content_type(parts: &Parts, accepts_files: bool) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(http::header::CONTENT_TYPE) else {
        return Ok(None);
    };
    if is_json_type(value) {
        return Ok(None);
    }
    match multipart::boundary(value) {
        Some(boundary) if accepts_files => return boundary.map(Some),
        Some(_) => {
            return Err(ApiError::new(
                Status::InvalidPayloadReceived,
                "This action takes no files; send its parameters as application/json",
            ))
        }
        None => {}
    }
    Err(ApiError::new(
        Status::InvalidPayloadReceived,
        format!(
            "Content-Type {:?} is not JSON; send the parameters as application/json",
            String::from_utf8_lossy(value.as_bytes())
        ),
    ))
}

/// `application/json`, `application/*+json` or
/// `application/x-www-form-urlencoded`, parameters aside, in any case.
fn is_json_type(value: &http::HeaderValue) -> bool {
    let essence = value
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence, ""));
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.eq_ignore_ascii_case("x-www-form-urlencoded")
            || subtype
                .get(subtype.len().saturating_sub(5)..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case("+json")))
}

async fn read_limited(
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

#[cfg(test)]
mod tests {
    use super::is_json_type;
    use crate::json_depth::check_depth;
    use http::HeaderValue;

    #[test]
    fn json_content_types_in_any_case_with_parameters() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
            "application/x-www-form-urlencoded",
        ] {
            assert!(is_json_type(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/xml",
            "text/json",
            "multipart/form-data; boundary=x",
            "json",
            "application/xml",
        ] {
            assert!(!is_json_type(&HeaderValue::from_static(bad)), "{bad}");
        }
    }

    #[test]
    fn depth_counts_brackets_outside_strings_only() {
        assert!(check_depth(b"[[[1]]]", 3).is_ok());
        assert!(check_depth(b"[[[[1]]]]", 3).is_err());
        assert!(check_depth(br#"{"a": "[[[[[[", "b": {"c": [1]}}"#, 3).is_ok());
        assert!(check_depth(br#"{"a": "\"[[[[", "b": [[[[]]]]}"#, 3).is_err());
    }
}

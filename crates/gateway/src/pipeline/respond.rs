//! Phase 8: write the envelope, its headers (`x-request-id`, `traceparent`,
//! `Allow`, rate limits, `Retry-After`), count the answer in the route's
//! metrics, and write one log line for the request.

use actiongate_wire::{AcceptedResult, Envelope, RequestId, Status, Timestamp};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ALLOW, CONTENT_TYPE, HOST, RETRY_AFTER};
use http::{Response, StatusCode};
use http_body_util::Full;

use super::context::RequestCtx;
use crate::rate_limits::LimitState;
use crate::{Gateway, Outcome};

/// What the pipeline answers.
pub enum Reply {
    /// The call ended now, with this request's id.
    Ended(Outcome),
    /// Still running: 202 and where to poll.
    Accepted {
        request_id: RequestId,
        request_time: Timestamp,
        result: AcceptedResult,
    },
    /// An envelope already rendered: a finished job's, replayed as it
    /// was, or one with a failure status and a result of its own (a
    /// failed `/status`).
    Stored {
        request_id: RequestId,
        http_code: u16,
        body: Vec<u8>,
        /// The upstream's own request id, for an upstream call's answer.
        upstream_request_id: Option<String>,
    },
    /// A document that is not an envelope: the OpenAPI description, which
    /// tools read as it is.
    Document(Bytes),
    /// Text for probes (`/healthz`, `/readyz`) and scrapers (`/metrics`),
    /// with its HTTP code and content type.
    Text {
        http_code: u16,
        content_type: &'static str,
        text: String,
    },
}

// Parsed once: a name given as text is parsed and checked on every
// insert.
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_UPSTREAM_REQUEST_ID: HeaderName = HeaderName::from_static("x-upstream-request-id");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The content type of probe answers.
pub const PLAIN_TEXT: &str = "text/plain; charset=utf-8";
/// The content type of the Prometheus text exposition format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

impl Reply {
    /// A 202 for `request_id`, with its poll location.
    pub fn accepted(
        gateway: &Gateway,
        ctx: &RequestCtx<'_>,
        request_id: RequestId,
        request_time: Timestamp,
        retry_counter: u64,
        completion_percent: Option<u8>,
    ) -> Reply {
        Reply::Accepted {
            request_id,
            request_time,
            result: AcceptedResult {
                ttl_mins: gateway.config().ttl_mins(),
                retry_counter,
                location: location(gateway, ctx, request_id),
                completion_percent,
            },
        }
    }
}

/// The absolute URL of the poll endpoint, under the host and service
/// prefix the call was made with (or the configured public URL), `https`
/// when the gateway serves TLS.
fn location(gateway: &Gateway, ctx: &RequestCtx<'_>, request_id: RequestId) -> String {
    let config = gateway.config();
    let base = match &config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let scheme = config.scheme();
            let host = ctx
                .parts
                .headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
                .or_else(|| ctx.parts.uri.authority().map(|a| a.to_string()))
                .unwrap_or_else(|| gateway.local_addr().to_string());
            format!("{scheme}://{host}")
        }
    };
    match ctx.prefix {
        Some(prefix) => format!("{base}/{prefix}/request/{request_id}"),
        None => format!("{base}/request/{request_id}"),
    }
}

pub fn write(gateway: &Gateway, reply: Reply, ctx: &RequestCtx<'_>) -> Response<Full<Bytes>> {
    let content_type = match reply {
        Reply::Text { content_type, .. } => content_type,
        _ => "application/json",
    };
    let mut relayed_headers = None;
    let (request_id, status, http_code, body) = match reply {
        Reply::Ended(outcome) => {
            let status = outcome.status();
            let body = outcome.render(ctx.request_id, ctx.request_time, Timestamp::now());
            let http_code = outcome.http_code();
            if let Outcome::Relayed(relayed) = outcome {
                relayed_headers = Some((relayed.upstream_request_id, relayed.retry_after));
            }
            (ctx.request_id, status, http_code, Bytes::from(body))
        }
        Reply::Accepted {
            request_id,
            request_time,
            result,
        } => {
            let envelope = Envelope {
                request_id,
                request_time,
                response_time: Timestamp::now(),
                status: Status::Accepted,
                summary: "Accepted: the request is running; poll its location for the result"
                    .into(),
                result,
            };
            let body = serde_json::to_vec(&envelope).expect("envelopes serialize");
            (request_id, Status::Accepted, 202, Bytes::from(body))
        }
        Reply::Stored {
            request_id,
            http_code,
            body,
            upstream_request_id,
        } => {
            relayed_headers = Some((upstream_request_id, None));
            (
                request_id,
                stored_status(&body, http_code),
                http_code,
                Bytes::from(body),
            )
        }
        Reply::Document(body) => (ctx.request_id, Status::Success, 200, body),
        Reply::Text {
            http_code, text, ..
        } => {
            let status = if http_code == 200 {
                Status::Success
            } else {
                Status::ServiceNotAvailable
            };
            (ctx.request_id, status, http_code, Bytes::from(text))
        }
    };
    let elapsed = ctx.started.elapsed();
    ctx.metrics
        .unwrap_or_else(|| gateway.metrics().endpoint(ctx.action))
        .answered(status, elapsed);
    tracing::info!(
        target: "actiongate::request",
        request_id = %request_id,
        service = ctx.service,
        route = format_args!("{}/{}", ctx.version, ctx.action),
        status = status.as_str(),
        http = http_code,
        latency_us = elapsed.as_micros() as u64,
    );
    let mut response = Response::new(Full::new(body));
    *response.status_mut() =
        StatusCode::from_u16(http_code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        X_REQUEST_ID,
        HeaderValue::from_bytes(&request_id.encode()).expect("request ids are ASCII"),
    );
    let trace = ctx.answer_trace.as_ref().unwrap_or(&ctx.trace);
    headers.insert(crate::trace::TRACEPARENT, trace.header());
    if let Some(allow) = ctx.allow {
        headers.insert(ALLOW, HeaderValue::from_static(allow));
    }
    if let Some(limit) = &ctx.limit {
        rate_limit_headers(headers, limit);
    }
    if let Some((upstream_id, retry_after)) = relayed_headers {
        let values = upstream_id
            .and_then(|id| HeaderValue::from_str(&id).ok())
            .map(|id| (X_UPSTREAM_REQUEST_ID, id))
            .into_iter()
            .chain(
                retry_after
                    .and_then(|after| HeaderValue::from_str(&after).ok())
                    .map(|after| (RETRY_AFTER, after)),
            );
        for (name, value) in values {
            headers.insert(name, value);
        }
    }
    if status == Status::ServiceNotAvailable && !headers.contains_key(RETRY_AFTER) {
        // Nothing was done; the SDKs retry a 503, and this says when.
        headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers:
/// quota `q` per window `w` seconds; `r` remaining, whole again in `t`
/// seconds), and `Retry-After` on a denied call.
fn rate_limit_headers(headers: &mut http::HeaderMap, limit: &LimitState) {
    let value = |text: String| HeaderValue::try_from(text).expect("digits and a token");
    headers.insert(
        RATELIMIT_POLICY,
        value(format!(
            "\"{}\";q={};w={}",
            limit.policy, limit.count, limit.window_secs
        )),
    );
    headers.insert(
        RATELIMIT,
        value(format!(
            "\"{}\";r={};t={}",
            limit.policy, limit.remaining, limit.reset_secs
        )),
    );
    if limit.denied {
        headers.insert(RETRY_AFTER, value(limit.reset_secs.max(1).to_string()));
    }
}

/// The status inside a stored envelope, for the log line and metrics; a
/// relayed status the table does not know counts by its HTTP code.
fn stored_status(body: &[u8], http_code: u16) -> Status {
    #[derive(serde::Deserialize)]
    struct StatusOnly<'a> {
        #[serde(borrow)]
        status: std::borrow::Cow<'a, str>,
    }
    match serde_json::from_slice::<StatusOnly>(body) {
        Ok(found) => crate::outcome::counted_status(&found.status, http_code),
        Err(_) => Status::InternalError,
    }
}

//! Forwarding one call: the request the upstream receives, the attempts
//! (another target only when one was never reached), and following an
//! upstream's 202 until its final answer.
//!
//! The upstream receives the body as it arrived, with its `Content-Type`,
//! and the caller's headers but for `Authorization`, cookies, hop-by-hop
//! ones and `Accept-Encoding` (the gateway reads the answer itself). The gateway adds `X-Request-Id` and `Idempotency-Key` (both the
//! gateway's request id, the same on every attempt and every node),
//! `X-Forwarded-For`, `-Proto` and `-Host`, `traceparent`, and
//! `X-Actiongate-Identity` ([`super::identity`]).

use std::time::Duration;

use actiongate_service::Principal;
use actiongate_wire::{ApiError, RequestId, Status};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH, HOST};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};

use super::answer::{self, Answer};
use super::identity::Identity;
use super::peer::TargetUrl;
use super::table::{CallSettings, UpstreamService};
use crate::Outcome;

/// The pooled keep-alive client every upstream call goes through.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client of its own for each upstream, connecting within its
/// `connect_timeout`; a connection not made in time is a target not
/// reached, which another target may make up for.
pub fn client(connect_timeout: Duration) -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(https)
}

/// Headers never passed to an upstream: hop-by-hop ones (RFC 9110
/// 7.6.1), the caller's credentials, and those the gateway sets itself.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    // The gateway reads the answer itself: it asks for it uncompressed.
    "accept-encoding",
    "host",
    "content-length",
    "authorization",
    "cookie",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-request-id",
    "idempotency-key",
    "traceparent",
    "tracestate",
    IDENTITY,
];

/// The header carrying the signed identity.
pub const IDENTITY: &str = "x-actiongate-identity";

/// How to make a call again, on any node: stored with its job.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct UpstreamCall {
    /// `/<version>/<path>`, as the caller named it.
    pub path: String,
    /// The headers passed on, the gateway's `X-Forwarded-*` and
    /// `traceparent` among them.
    pub headers: Vec<(String, String)>,
    /// Once the upstream answered 202: the absolute URL it is polled at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll: Option<String>,
}

impl UpstreamCall {
    /// The call as it arrived: `path` under the service, the request's
    /// headers, the client's address and scheme, and the trace the
    /// upstream continues.
    pub fn new(
        path: &str,
        parts: &Parts,
        client: std::net::IpAddr,
        scheme: &str,
        traceparent: &HeaderValue,
    ) -> UpstreamCall {
        let headers = &parts.headers;
        let connection_named: Vec<String> = headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        let mut forwarded: Vec<(String, String)> = headers
            .iter()
            .filter(|(name, _)| {
                !NOT_FORWARDED.contains(&name.as_str())
                    && !connection_named.iter().any(|c| c == name.as_str())
            })
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let prior = headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok());
        let forwarded_for = match prior {
            Some(prior) => format!("{prior}, {client}"),
            None => client.to_string(),
        };
        forwarded.push(("x-forwarded-for".into(), forwarded_for));
        forwarded.push(("x-forwarded-proto".into(), scheme.to_owned()));
        if let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) {
            forwarded.push(("x-forwarded-host".into(), host.to_owned()));
        }
        if let Ok(trace) = traceparent.to_str() {
            forwarded.push(("traceparent".into(), trace.to_owned()));
        }
        UpstreamCall {
            path: path.to_owned(),
            headers: forwarded,
            poll: None,
        }
    }
}

/// Who is calling and for which request.
pub struct Caller<'a> {
    pub request_id: RequestId,
    pub principal: &'a Principal,
    pub identity: &'a Identity,
}

/// How one attempt at one target ended.
enum Attempt {
    Answered(Response<Bytes>),
    /// Never reached the target: another may be tried.
    Unreached(String),
    TimedOut,
    /// Reached, but the exchange broke (a reset, an oversized body).
    Broken(Outcome),
}

/// POSTs the call to a healthy target, trying others while none was
/// reached (up to `retries` more), and returns the answer, or where to
/// poll for it with the target that gave it.
pub async fn post(
    service: &UpstreamService,
    settings: CallSettings,
    call: &UpstreamCall,
    body: Bytes,
    caller: &Caller<'_>,
) -> Result<(Answer, usize), Outcome> {
    let peers = &service.peers;
    let mut tried = Vec::new();
    loop {
        let Some(index) = peers.choose(&tried) else {
            return Err(all_down(service.name, tried.is_empty()));
        };
        tried.push(index);
        let target = &peers.get(index).url;
        let request = match build(target, call, body.clone(), service, caller) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(upstream = service.name, error = %err, "could not build the upstream request");
                return Err(answer::provider_error(format!(
                    "The call could not be made to the {} service",
                    service.name
                )));
            }
        };
        match attempt(service, request, settings).await {
            Attempt::Answered(response) => {
                let (parts, bytes) = response.into_parts();
                if parts.status.is_server_error() {
                    peers.failed(index, &format!("answered {}", parts.status.as_u16()));
                } else {
                    peers.succeeded(index);
                }
                return Ok((
                    answer::map(service.name, parts.status, &parts.headers, &bytes),
                    index,
                ));
            }
            Attempt::Unreached(error) => {
                peers.failed(index, &error);
                tracing::warn!(upstream = service.name, target = %target, error, "upstream target not reached");
                if tried.len() > service.settings.retries as usize {
                    return Err(all_down(service.name, false));
                }
            }
            Attempt::TimedOut => return Err(timed_out(service.name, settings.timeout)),
            Attempt::Broken(outcome) => return Err(outcome),
        }
    }
}

/// Follows an upstream's 202 at `call.poll` until its final answer: GET
/// with the identity, after its `Retry-After`, else 1, 2, 4 ... s, at most
/// 30 s apart. A new location a poll answers with is followed from then
/// on (the job's row keeps the first; a takeover starts there).
pub async fn follow(
    service: &UpstreamService,
    settings: CallSettings,
    call: &mut UpstreamCall,
    mut retry_after: Option<Duration>,
    caller: &Caller<'_>,
) -> Outcome {
    let mut backoff = Duration::from_secs(1);
    let mut failures = 0;
    loop {
        let wait = retry_after.take().unwrap_or(backoff).min(MAX_POLL_WAIT);
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_POLL_WAIT);
        let Some(url) = call
            .poll
            .as_deref()
            .and_then(|url| url.parse::<http::Uri>().ok())
        else {
            return answer::provider_error(format!(
                "The {} service gave a poll location that is not a URL",
                service.name
            ));
        };
        let request = match poll_request(&url, call, service, caller) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(upstream = service.name, error = %err, "could not build the poll request");
                return answer::provider_error(format!(
                    "The {} service gave a poll location that cannot be called",
                    service.name
                ));
            }
        };
        match attempt(service, request, settings).await {
            Attempt::Answered(response) => {
                failures = 0;
                let (parts, bytes) = response.into_parts();
                match answer::map(service.name, parts.status, &parts.headers, &bytes) {
                    Answer::Final(outcome) => return outcome,
                    Answer::Pending {
                        location,
                        retry_after: again,
                    } => {
                        if let Some(next) = resolve(&url, &location) {
                            call.poll = Some(next);
                        }
                        retry_after = again;
                    }
                }
            }
            Attempt::Unreached(_) | Attempt::Broken(_) if failures < MAX_POLL_FAILURES => {
                failures += 1;
                tracing::warn!(
                    upstream = service.name,
                    failures,
                    "polling the upstream failed; trying again"
                );
            }
            Attempt::Unreached(_) => return all_down(service.name, false),
            Attempt::Broken(outcome) => return outcome,
            Attempt::TimedOut => return timed_out(service.name, settings.timeout),
        }
    }
}

const MAX_POLL_WAIT: Duration = Duration::from_secs(30);
/// Polls in a row that may fail before the call is given up.
const MAX_POLL_FAILURES: u32 = 10;

/// `location` as the absolute URL it names from `base`: a path, or an
/// absolute URL on the same scheme and authority. A location elsewhere is
/// not followed with the caller's identity; only its path is used.
pub fn resolve(base: &http::Uri, location: &str) -> Option<String> {
    let located: http::Uri = location.parse().ok()?;
    let path = located.path_and_query()?.as_str();
    if !path.starts_with('/') {
        return None;
    }
    Some(format!(
        "{}://{}{path}",
        base.scheme_str()?,
        base.authority()?
    ))
}

/// No target was reached, so nothing was done: `Retry`, which a job takes
/// as "run again later" and a direct call answers 503 with `Retry-After`.
fn all_down(service: &str, none_healthy: bool) -> Outcome {
    let summary = if none_healthy {
        format!("No target of the {service} service is available; retry shortly")
    } else {
        format!("The {service} service could not be reached; retry shortly")
    };
    Outcome::Retry(ApiError::new(Status::ServiceNotAvailable, summary))
}

fn timed_out(service: &str, timeout: Duration) -> Outcome {
    ApiError::new(
        Status::ProviderTimeout,
        format!(
            "The {service} service did not answer within {}",
            humantime_serde::re::humantime::format_duration(timeout)
        ),
    )
    .into()
}

/// The POST of `call` to `target`.
fn build(
    target: &TargetUrl,
    call: &UpstreamCall,
    body: Bytes,
    service: &UpstreamService,
    caller: &Caller<'_>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let uri = target.join(&call.path)?;
    let mut request = Request::builder().method(Method::POST).uri(uri);
    if let Some(headers) = request.headers_mut() {
        add_headers(headers, call, service, caller);
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    request.body(Full::new(body))
}

fn poll_request(
    url: &http::Uri,
    call: &UpstreamCall,
    service: &UpstreamService,
    caller: &Caller<'_>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let mut request = Request::builder().method(Method::GET).uri(url.clone());
    if let Some(headers) = request.headers_mut() {
        add_headers(headers, call, service, caller);
        headers.remove(http::header::CONTENT_TYPE);
    }
    request.body(Full::new(Bytes::new()))
}

fn add_headers(
    headers: &mut HeaderMap,
    call: &UpstreamCall,
    service: &UpstreamService,
    caller: &Caller<'_>,
) {
    for (name, value) in &call.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let id = HeaderValue::from_bytes(&caller.request_id.encode()).expect("request ids are ASCII");
    headers.insert("x-request-id", id.clone());
    headers.insert("idempotency-key", id);
    let token = caller
        .identity
        .sign(service.name, caller.principal, caller.request_id);
    headers.insert(
        IDENTITY,
        HeaderValue::from_str(&token).expect("a JWT is ASCII"),
    );
}

/// One exchange within the call's timeout, its body read up to the
/// service's `response_limit`.
async fn attempt(
    service: &UpstreamService,
    request: Request<Full<Bytes>>,
    settings: CallSettings,
) -> Attempt {
    let exchange = async {
        let response = match service.client.request(request).await {
            Ok(response) => response,
            Err(err) if err.is_connect() => return Attempt::Unreached(describe(&err)),
            Err(err) => {
                return Attempt::Broken(answer::provider_error(format!(
                    "The {} service broke off its answer ({})",
                    service.name,
                    kind(&err)
                )))
            }
        };
        read(service.name, response, service.settings.response_limit).await
    };
    match tokio::time::timeout(settings.timeout, exchange).await {
        Ok(attempt) => attempt,
        Err(_) => Attempt::TimedOut,
    }
}

async fn read(service: &str, response: Response<Incoming>, limit: u64) -> Attempt {
    let (parts, body) = response.into_parts();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Attempt::Answered(Response::from_parts(parts, collected.to_bytes())),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            Attempt::Broken(answer::provider_error(format!(
                "The {service} service's answer is larger than its response_limit ({limit} bytes)"
            )))
        }
        Err(_) => Attempt::Broken(answer::provider_error(format!(
            "The {service} service broke off its answer"
        ))),
    }
}

/// An error and its causes, for logs and `upstream/status`.
pub fn describe(err: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn kind(err: &hyper_util::client::legacy::Error) -> &'static str {
    if describe(err).contains("reset") {
        "connection reset"
    } else {
        "connection closed"
    }
}

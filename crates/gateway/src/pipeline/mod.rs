//! The life of one request, as a fixed sequence of phases, one module each:
//!
//! 1. [`route`]: find the service and action (or one of the gateway's own
//!    request endpoints);
//! 2. [`authenticate`]: check the bearer token and that it is enabled for
//!    the service;
//! 3. [`decode`]: read the body within its limit and decode it into the
//!    action's typed input;
//! 4. [`replay`]: answer a repeat of an earlier call (`Idempotency-Key`,
//!    `X-Pangea-Retried-Request-Ids`) with that call's outcome;
//! 5. [`dispatch`]: run the action, answering directly or recording it as
//!    a job and answering 202;
//! 6. [`respond`]: write the envelope, its headers, and the log line.
//!
//! The gateway's own endpoints for recorded requests: [`poll`] and
//! [`cancel`]. Rate limiting, when it comes, sits between authentication
//! and decoding.

pub mod authenticate;
pub mod cancel;
pub mod decode;
pub mod dispatch;
pub mod poll;
pub mod replay;
pub mod respond;
pub mod route;

use std::sync::Arc;
use std::time::Instant;

use actiongate_wire::{ApiError, RequestId, Timestamp};
use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::Gateway;
use respond::{Reply, Trace};
use route::Route;

/// What every phase may need to know about the call.
pub struct Call<'a> {
    pub request_id: RequestId,
    pub request_time: Timestamp,
    pub parts: &'a Parts,
    /// The service prefix the caller used, repeated in poll locations.
    pub prefix: Option<&'a str>,
}

/// Handles one HTTP request from start to finish. Never fails: every
/// problem becomes an envelope.
pub async fn handle(gateway: Arc<Gateway>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = RequestId::new();
    let request_time = Timestamp::now();
    let (parts, body) = request.into_parts();
    let mut trace = Trace::default();
    let reply = run(&gateway, &parts, body, request_id, request_time, &mut trace).await;
    respond::write(reply, request_id, request_time, started, &trace)
}

async fn run<'a>(
    gateway: &Gateway,
    parts: &'a Parts,
    body: Incoming,
    request_id: RequestId,
    request_time: Timestamp,
    trace: &mut Trace<'a>,
) -> Reply {
    let resolved = match route::resolve(gateway.routes(), parts) {
        Ok(resolved) => resolved,
        Err(rejected) => {
            trace.allow = rejected.allow;
            return Reply::Ended(rejected.error.into());
        }
    };
    let call = Call {
        request_id,
        request_time,
        parts,
        prefix: resolved.prefix,
    };
    let result: Result<Reply, ApiError> = match resolved.route {
        Route::Poll { request_id } => {
            trace.action = "request";
            poll::answer(gateway, &call, request_id).await
        }
        Route::Cancel => {
            trace.action = "request/cancel";
            async {
                let body =
                    decode::read_body(body, parts, gateway.config().body_limit, None).await?;
                cancel::answer(gateway, &call, body).await.map(Reply::Ended)
            }
            .await
        }
        Route::Action {
            service,
            action,
            rest_id,
        } => {
            trace.service = service.name;
            trace.version = action.spec.version;
            trace.action = action.spec.path;
            async {
                let grant = authenticate::bearer(gateway.tokens(), &parts.headers).await?;
                authenticate::service_enabled(&grant, service.name)?;
                let body =
                    decode::read_body(body, parts, gateway.config().body_limit, rest_id).await?;
                let input = action.handler.decode(&body)?;
                let repeat = replay::Repeat::read(&parts.headers)?;
                if let Some(reply) =
                    replay::earlier(gateway, &call, service, action, &grant, &body, &repeat).await?
                {
                    return Ok(reply);
                }
                Ok(dispatch::dispatch(
                    gateway,
                    &call,
                    service,
                    action,
                    &grant,
                    body,
                    input,
                    repeat.idempotency_key,
                )
                .await)
            }
            .await
        }
    };
    result.unwrap_or_else(|err| Reply::Ended(err.into()))
}

//! The life of one request, as a fixed sequence of phases, one module each:
//!
//! 1. [`route`]: find the service and action (or one of the gateway's own
//!    request endpoints);
//! 2. [`authenticate`]: check the bearer token, that it is enabled for
//!    the service, and that its principal holds the action's role;
//! 3. [`rate_limit`]: count the call against the token's budget;
//! 4. [`decode`]: read the body within its limits and decode it into the
//!    action's typed input;
//! 5. [`replay`]: answer a repeat of an earlier call (`Idempotency-Key`,
//!    `X-Pangea-Retried-Request-Ids`) with that call's outcome;
//! 6. [`dispatch`]: run the action, answering directly or recording it as
//!    a job and answering 202;
//! 7. [`respond`]: write the envelope, its headers, and the log line.
//!
//! The gateway's own endpoints for recorded requests: [`poll`] and
//! [`cancel`].

pub mod authenticate;
pub mod cancel;
pub mod decode;
pub mod dispatch;
pub mod poll;
pub mod rate_limit;
pub mod replay;
pub mod respond;
pub mod route;

use std::net::SocketAddr;
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
    /// The client's address, as the connection came in.
    pub peer: SocketAddr,
    pub request_time: Timestamp,
    pub parts: &'a Parts,
    /// The service prefix the caller used, repeated in poll locations.
    pub prefix: Option<&'a str>,
}

/// Handles one HTTP request from start to finish. Never fails: every
/// problem becomes an envelope.
pub async fn handle(
    gateway: Arc<Gateway>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let request_id = RequestId::new();
    let request_time = Timestamp::now();
    let (parts, body) = request.into_parts();
    let mut trace = Trace::default();
    let reply = run(
        &gateway,
        peer,
        &parts,
        body,
        request_id,
        request_time,
        &mut trace,
    )
    .await;
    respond::write(reply, request_id, request_time, started, &trace)
}

async fn run<'a>(
    gateway: &Gateway,
    peer: SocketAddr,
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
        peer,
        request_time,
        parts,
        prefix: resolved.prefix,
    };
    let result: Result<Reply, ApiError> = match resolved.route {
        Route::Poll { request_id } => {
            trace.action = "request";
            poll::answer(gateway, &call, request_id, trace).await
        }
        Route::Cancel => {
            trace.action = "request/cancel";
            async {
                let body = decode::read_body(body, parts, gateway.config(), None, false).await?;
                cancel::answer(gateway, &call, body, trace)
                    .await
                    .map(Reply::Ended)
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
                let grant =
                    authenticate::for_action(gateway, &call, service.name, &action.spec, trace)
                        .await?;
                rate_limit::check(gateway, &grant, service.name, &action.spec, trace)?;
                let body = decode::read_body(
                    body,
                    parts,
                    gateway.config(),
                    rest_id,
                    action.spec.accepts_files,
                )
                .await?;
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

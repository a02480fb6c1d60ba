//! The life of one request, as a fixed sequence of phases, one module each,
//! all sharing one [`RequestCtx`]:
//!
//! 1. [`route`]: find the service and action (or one of the gateway's own
//!    request endpoints);
//! 2. [`authenticate`]: check the bearer token, that it is enabled for
//!    the service, and, for organization-scoped actions, that its
//!    principal holds the action's role;
//! 3. [`rate_limit`]: count the call against the token's budget;
//! 4. [`decode`]: read the body within its limits;
//! 5. [`authorize`]: check the caller's role in the project the action's
//!    declared scope names, then decode the body into the action's typed
//!    input;
//! 6. [`replay`]: answer a repeat of an earlier call (`Idempotency-Key`,
//!    `X-Pangea-Retried-Request-Ids`) with that call's outcome;
//! 7. [`dispatch`]: run the action (a local handler, or a call forwarded
//!    to an upstream service), answering directly or recording it as a
//!    job and answering 202;
//! 8. [`respond`]: write the envelope, its headers, its metrics and the
//!    log line.
//!
//! The whole life runs in one tracing span carrying the request's trace id
//! ([`crate::trace`]), so every line it logs names its trace.
//!
//! A call to an upstream service takes the same phases but `authorize`
//! (its role is checked in the organization) and typed decoding (its body
//! is forwarded as it came).
//!
//! A request's future is as large as the largest path it could take, and
//! is allocated and moved whole for each request. So the paths few
//! requests take (the other routes, a repeated call, a write's commit) are
//! boxed where they branch off, and the common one stays inline: 3.5 KB
//! against 25 KB with everything inline.
//!
//! The gateway's own endpoints for recorded requests: [`poll`] and
//! [`cancel`], which check with [`reach`] that the caller could have made
//! the request it names; and for its own state, [`state`] (health, status,
//! metrics, the upstreams' health and the JWKS).

pub mod authenticate;
pub mod authorize;
pub mod cancel;
pub mod context;
pub mod decode;
pub mod dispatch;
pub mod poll;
pub mod rate_limit;
pub mod reach;
pub mod replay;
pub mod respond;
pub mod route;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use actiongate_wire::ApiError;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use tracing::Instrument;

use crate::upstream::table::UpstreamTable;
use crate::Gateway;
pub use context::RequestCtx;
use respond::Reply;
use route::Route;

/// Handles one HTTP request from start to finish. Never fails: every
/// problem becomes an envelope.
pub async fn handle(
    gateway: Arc<Gateway>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // The upstreams in force when the request came; a reload meanwhile
    // leaves it on these.
    let upstreams = gateway.upstreams().current();
    let mut ctx = RequestCtx::new(peer, &parts);
    let span = ctx.span.clone();
    let reply = run(&gateway, &mut ctx, &upstreams, body)
        .instrument(span.clone())
        .await;
    let _request = span.enter();
    // A job's answer is logged in the job's trace too.
    let _job = ctx
        .answer_trace
        .as_ref()
        .map(|trace| crate::jobs::job_span(trace).entered());
    respond::write(&gateway, reply, &ctx)
}

async fn run<'a>(
    gateway: &'a Gateway,
    ctx: &mut RequestCtx<'a>,
    upstreams: &'a UpstreamTable,
    body: Incoming,
) -> Reply {
    let resolved = match route::resolve(gateway.routes(), upstreams, ctx.parts) {
        Ok(resolved) => resolved,
        Err(rejected) => {
            ctx.allow = rejected.allow;
            return Reply::Ended(rejected.error.into());
        }
    };
    ctx.prefix = resolved.prefix;
    let result: Result<Reply, ApiError> = match resolved.route {
        Route::Document { service } => {
            ctx.action = "openapi.json";
            let documents = gateway.documents();
            match service {
                Some(service) => {
                    ctx.service = service.name;
                    documents.service(service.name)
                }
                None => Some(documents.all()),
            }
            .map(Reply::Document)
            .ok_or_else(|| ApiError::new(actiongate_wire::Status::NotFound, "No such document"))
        }
        // Boxed, as every route but a local action's (see the module's
        // note on future sizes).
        Route::Health(endpoint) => Box::pin(state::answer(gateway, ctx, endpoint)).await,
        Route::Jwks => Box::pin(state::jwks(gateway, ctx)).await,
        Route::UpstreamStatus => Box::pin(state::upstreams(gateway, ctx)).await,
        Route::Poll { request_id } => {
            ctx.action = "request";
            Box::pin(poll::answer(gateway, ctx, request_id)).await
        }
        Route::Cancel => {
            ctx.action = "request/cancel";
            Box::pin(async {
                let body =
                    decode::read_body(body, ctx.parts, gateway.config(), None, false).await?;
                cancel::answer(gateway, ctx, body).await.map(Reply::Ended)
            })
            .await
        }
        Route::Action {
            service,
            action,
            rest_id,
        } => {
            ctx.service = service.name;
            ctx.version = action.spec.version;
            ctx.action = action.spec.path;
            ctx.metrics = Some(&action.metrics);
            async {
                authenticate::for_action(gateway, ctx, service.name, &action.spec).await?;
                rate_limit::check(gateway, ctx, service, &action.spec)?;
                let body = decode::read_body(
                    body,
                    ctx.parts,
                    gateway.config(),
                    rest_id,
                    action.spec.accepts_files,
                )
                .await?;
                authorize::check(gateway, ctx, service.name, &action.spec, &body).await?;
                let input = action.handler.decode(&body)?;
                let repeat = replay::Repeat::read(&ctx.parts.headers)?;
                let called = replay::Called {
                    service: service.name,
                    version: action.spec.version,
                    path: action.spec.path,
                };
                // Boxed, and only for a repeat: most calls are not one.
                if !repeat.is_empty() {
                    let earlier = replay::earlier(gateway, ctx, &called, &body, &repeat);
                    if let Some(reply) = Box::pin(earlier).await? {
                        return Ok(reply);
                    }
                }
                Ok(dispatch::dispatch(
                    gateway,
                    ctx,
                    service,
                    action,
                    body,
                    input,
                    repeat.idempotency_key,
                )
                .await)
            }
            .await
        }
        Route::Upstream { service, key } => {
            let action = service.action(key);
            let (version, path) = key.split_once('/').unwrap_or((key, ""));
            ctx.service = service.name;
            ctx.version = version;
            ctx.action = path;
            ctx.metrics = Some(&action.metrics);
            Box::pin(async {
                authenticate::for_action(gateway, ctx, service.name, &action.spec).await?;
                rate_limit::check_upstream(gateway, ctx, service, &action.spec)?;
                let body = decode::read_forwarded(body, ctx.parts, gateway.config()).await?;
                let repeat = replay::Repeat::read(&ctx.parts.headers)?;
                let called = replay::Called {
                    service: service.name,
                    version,
                    path,
                };
                if let Some(reply) = replay::earlier(gateway, ctx, &called, &body, &repeat).await? {
                    return Ok(reply);
                }
                Ok(
                    dispatch::to_upstream(gateway, ctx, service, key, body, repeat.idempotency_key)
                        .await,
                )
            })
            .await
        }
    };
    result.unwrap_or_else(|err| Reply::Ended(err.into()))
}

//! The gateway's own state: liveness and readiness for probes (plain
//! text), the build, the checks behind readiness for an organization
//! admin (in the envelope), and Prometheus metrics for the same admin (in
//! the exposition format), the upstreams' health for the same admin, and
//! the public keys of upstream identities. See [`crate::health`].

use actiongate_service::Role;
use actiongate_wire::{ApiError, Envelope, Status, Timestamp};

use super::authenticate;
use super::context::RequestCtx;
use super::respond::{Reply, PLAIN_TEXT, PROMETHEUS_TEXT};
use super::route::Health;
use crate::health;
use crate::{Gateway, Outcome};

pub async fn answer(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    endpoint: Health<'_>,
) -> Result<Reply, ApiError> {
    match endpoint {
        Health::Live => {
            ctx.action = "healthz";
            Ok(Reply::Text {
                http_code: 200,
                content_type: PLAIN_TEXT,
                text: "ok\n".into(),
            })
        }
        Health::Ready => {
            ctx.action = "readyz";
            Ok(match health::not_ready(gateway).await {
                None => Reply::Text {
                    http_code: 200,
                    content_type: PLAIN_TEXT,
                    text: "ready\n".into(),
                },
                Some(why) => Reply::Text {
                    http_code: 503,
                    content_type: PLAIN_TEXT,
                    text: format!("not ready: {why}\n"),
                },
            })
        }
        Health::Version => {
            ctx.action = "version";
            success("Version", &health::VERSION)
        }
        Health::Metrics => {
            ctx.action = "metrics";
            operator(gateway, ctx, "metrics").await?;
            match health::metrics(gateway).await {
                Some(text) => Ok(Reply::Text {
                    http_code: 200,
                    content_type: PROMETHEUS_TEXT,
                    text,
                }),
                None => Err(ApiError::new(
                    Status::NotFound,
                    "Metrics are off on this gateway (metrics = false)",
                )),
            }
        }
        Health::Status { only } => {
            ctx.action = "status";
            operator(gateway, ctx, "status").await?;
            let Some(report) = health::report(gateway, only).await else {
                return Err(ApiError::new(
                    Status::ResourceNotFound,
                    format!(
                        "No check is named {:?}; the checks are {}",
                        only.unwrap_or_default(),
                        health::names()
                    ),
                ));
            };
            if report.healthy() {
                return success("All checks passed", &report);
            }
            // A failed check is the gateway's fault, not the caller's: 500,
            // with the checks to say which.
            let envelope = Envelope {
                request_id: ctx.request_id,
                request_time: ctx.request_time,
                response_time: Timestamp::now(),
                status: Status::InternalError,
                summary: "A check failed; see result.checks".into(),
                result: &report,
            };
            Ok(Reply::Stored {
                request_id: ctx.request_id,
                http_code: 500,
                body: serde_json::to_vec(&envelope)
                    .map_err(|_| ApiError::internal(ctx.request_id))?,
                upstream_request_id: None,
            })
        }
    }
}

/// `POST /v1/upstream/status`: each upstream service, its targets, their
/// health and last error, for the same admin.
pub async fn upstreams(gateway: &Gateway, ctx: &mut RequestCtx<'_>) -> Result<Reply, ApiError> {
    ctx.version = "v1";
    ctx.action = "upstream/status";
    operator(gateway, ctx, "upstream status").await?;
    success("Upstream status", &gateway.upstreams().report())
}

/// `GET /.well-known/jwks.json`: the public keys of upstream identities,
/// for anyone (an upstream verifying a call has no token).
pub async fn jwks(gateway: &Gateway, ctx: &mut RequestCtx<'_>) -> Result<Reply, ApiError> {
    ctx.action = "jwks";
    let keys = gateway
        .upstreams()
        .identity()
        .jwks()
        .await
        .map_err(|err| crate::outcome::unavailable_db(ctx.request_id, &err))?;
    let body = serde_json::to_vec(&keys).map_err(|_| ApiError::internal(ctx.request_id))?;
    Ok(Reply::Document(body.into()))
}

/// Checks that the caller may see the whole gateway's state: the job
/// engine's figures cover every organization on it, an operator's view,
/// not a project member's.
async fn operator(gateway: &Gateway, ctx: &mut RequestCtx<'_>, what: &str) -> Result<(), ApiError> {
    let grant = authenticate::bearer(gateway, ctx).await?;
    let principal = &grant.principal;
    if principal.role < Role::Admin || principal.project_id.is_some() {
        return Err(ApiError::new(
            Status::Forbidden,
            format!(
                "The gateway's {what} is for an organization admin's token with no project limit"
            ),
        ));
    }
    Ok(())
}

fn success(summary: &'static str, result: &impl serde::Serialize) -> Result<Reply, ApiError> {
    let result = serde_json::value::to_raw_value(result)
        .map_err(|_| ApiError::new(Status::InternalError, "The answer failed to serialize"))?;
    Ok(Reply::Ended(Outcome::Success {
        summary: summary.into(),
        result,
        kept: None,
    }))
}

//! The gateway's own state: liveness and readiness for probes (plain
//! text), the build, and the checks behind readiness for an organization
//! admin (in the envelope). See [`crate::health`].

use actiongate_service::Role;
use actiongate_wire::{ApiError, Envelope, Status, Timestamp};

use super::authenticate;
use super::context::RequestCtx;
use super::respond::Reply;
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
            Ok(Reply::Probe {
                http_code: 200,
                text: "ok\n".into(),
            })
        }
        Health::Ready => {
            ctx.action = "readyz";
            Ok(match health::not_ready(gateway).await {
                None => Reply::Probe {
                    http_code: 200,
                    text: "ready\n".into(),
                },
                Some(why) => Reply::Probe {
                    http_code: 503,
                    text: format!("not ready: {why}\n"),
                },
            })
        }
        Health::Version => {
            ctx.action = "version";
            success("Version", &health::VERSION)
        }
        Health::Status { only } => {
            ctx.action = "status";
            let grant = authenticate::bearer(gateway, ctx).await?;
            let principal = &grant.principal;
            // The job engine's figures cover every organization on the
            // gateway: an operator's view, not a project member's.
            if principal.role < Role::Admin || principal.project_id.is_some() {
                return Err(ApiError::new(
                    Status::Forbidden,
                    "The gateway's status is for an organization admin's token with no project limit",
                ));
            }
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
            })
        }
    }
}

fn success(summary: &'static str, result: &impl serde::Serialize) -> Result<Reply, ApiError> {
    let result = serde_json::value::to_raw_value(result)
        .map_err(|_| ApiError::new(Status::InternalError, "The answer failed to serialize"))?;
    Ok(Reply::Ended(Outcome::Success {
        summary: summary.into(),
        result,
    }))
}

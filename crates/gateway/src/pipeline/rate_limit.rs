//! Phase 3: count the call against its rate limit: the token's budget for
//! the service, or the action's own when the config overrides it. Public
//! actions are not limited. Polls and cancels of a recorded request count
//! against the budget for the service it called.

use actiongate_service::{Access, ActionSpec};
use actiongate_wire::ApiError;

use super::context::RequestCtx;
use crate::rate_limits::{too_many, LimitState};
use crate::routes::ServiceRoutes;
use crate::Gateway;

/// For `GET /request/<id>` and `POST /request/cancel`.
pub fn check_request(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &str,
) -> Result<(), ApiError> {
    let state = gateway
        .rate_limits()
        .check_service(&ctx.grant().principal.token_id, service);
    let counted = gateway.routes().service_named(service);
    enforce(state, ctx, counted)
}

pub fn check(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &ServiceRoutes,
    spec: &ActionSpec,
) -> Result<(), ApiError> {
    if spec.access == Access::Public {
        return Ok(());
    }
    let state = gateway.rate_limits().check_call(
        &ctx.grant().principal.token_id,
        service.name,
        spec.version,
        spec.path,
    );
    enforce(state, ctx, Some(service))
}

fn enforce(
    state: Option<LimitState>,
    ctx: &mut RequestCtx<'_>,
    service: Option<&ServiceRoutes>,
) -> Result<(), ApiError> {
    let Some(state) = state else {
        return Ok(());
    };
    ctx.limit = Some(state);
    if state.denied {
        if let Some(service) = service {
            service.rate_limited.increment(1);
        }
        return Err(too_many(&state));
    }
    Ok(())
}

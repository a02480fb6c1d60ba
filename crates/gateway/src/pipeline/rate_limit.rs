//! Phase 3: count the call against its rate limit: the token's budget for
//! the service, or the action's own when the config overrides it. Public
//! actions are not limited. Polls and cancels of a recorded request count
//! against the budget for the service it called.

use actiongate_service::{Access, ActionSpec};
use actiongate_wire::ApiError;

use super::context::RequestCtx;
use crate::rate_limits::{too_many, LimitState};
use crate::routes::ServiceRoutes;
use crate::upstream::table::UpstreamService;
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
    let counted = gateway
        .routes()
        .service_named(service)
        .map(|service| &service.rate_limited);
    enforce(state, ctx, counted)
}

pub fn check(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &ServiceRoutes,
    spec: &ActionSpec,
) -> Result<(), ApiError> {
    check_named(gateway, ctx, service.name, spec, &service.rate_limited)
}

/// For a call to an upstream service: its budget, or the listed
/// action's own.
pub fn check_upstream(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &UpstreamService,
    spec: &ActionSpec,
) -> Result<(), ApiError> {
    check_named(gateway, ctx, service.name, spec, &service.rate_limited)
}

fn check_named(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &'static str,
    spec: &ActionSpec,
    refused: &metrics::Counter,
) -> Result<(), ApiError> {
    if spec.access == Access::Public {
        return Ok(());
    }
    let state = gateway.rate_limits().check_call(
        &ctx.grant().principal.token_id,
        service,
        spec.version,
        spec.path,
    );
    enforce(state, ctx, Some(refused))
}

fn enforce(
    state: Option<LimitState>,
    ctx: &mut RequestCtx<'_>,
    refused: Option<&metrics::Counter>,
) -> Result<(), ApiError> {
    let Some(state) = state else {
        return Ok(());
    };
    ctx.limit = Some(state);
    if state.denied {
        if let Some(refused) = refused {
            refused.increment(1);
        }
        return Err(too_many(&state));
    }
    Ok(())
}

//! Phase 3: count the call against its rate limit: the token's budget for
//! the service, or the action's own when the config overrides it. Public
//! actions are not limited. Polls and cancels of a recorded request count
//! against the budget for the service it called.

use actiongate_service::{Access, ActionSpec};
use actiongate_wire::ApiError;

use super::respond::Trace;
use crate::rate_limits::{too_many, LimitState};
use crate::tokens::Grant;
use crate::Gateway;

/// For `GET /request/<id>` and `POST /request/cancel`.
pub fn check_request(
    gateway: &Gateway,
    grant: &Grant,
    service: &str,
    trace: &mut Trace<'_>,
) -> Result<(), ApiError> {
    let state = gateway
        .rate_limits()
        .check_service(&grant.principal.token_id, service);
    enforce(state, trace)
}

pub fn check(
    gateway: &Gateway,
    grant: &Grant,
    service: &'static str,
    spec: &ActionSpec,
    trace: &mut Trace<'_>,
) -> Result<(), ApiError> {
    if spec.access == Access::Public {
        return Ok(());
    }
    let state = gateway.rate_limits().check_call(
        &grant.principal.token_id,
        service,
        spec.version,
        spec.path,
    );
    enforce(state, trace)
}

fn enforce(state: Option<LimitState>, trace: &mut Trace<'_>) -> Result<(), ApiError> {
    let Some(state) = state else {
        return Ok(());
    };
    trace.limit = Some(state);
    if state.denied {
        return Err(too_many(&state));
    }
    Ok(())
}

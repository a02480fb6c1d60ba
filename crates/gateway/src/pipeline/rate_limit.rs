//! Phase 3: count the call against its rate limit: the token's budget for
//! the service, or the action's own when the config overrides it. Public
//! actions are not limited.

use actiongate_service::{Access, ActionSpec};
use actiongate_wire::ApiError;

use super::respond::Trace;
use crate::rate_limits::too_many;
use crate::tokens::Grant;
use crate::Gateway;

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
    let Some(state) = gateway.rate_limits().check_call(
        &grant.principal.token_id,
        service,
        spec.version,
        spec.path,
    ) else {
        return Ok(());
    };
    trace.limit = Some(state);
    if state.denied {
        return Err(too_many(&state));
    }
    Ok(())
}

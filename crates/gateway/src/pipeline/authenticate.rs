//! Phase 2: authenticate the bearer token, and check that its principal
//! may call the action: the token is enabled for the service, and the
//! principal holds the action's role in its organization (for an action
//! scoped to a project, `authorize` checks the role there; here only the
//! token's cap, which no project role exceeds).
//!
//! The token itself never reaches a log or a summary: a failure is logged
//! with the client's address and the token's `agt_` prefix only. Failures
//! count against the client address's `failed_auth` budget; an address that
//! spent it is turned away before its token is even looked at.

use std::sync::Arc;

use actiongate_kit::authz::{self, Asked, Place};
use actiongate_service::{Access, ActionSpec, Scope};
use actiongate_wire::{ApiError, Status};
use http::header::AUTHORIZATION;

use super::context::RequestCtx;
use crate::rate_limits::too_many;
use crate::tokens::Grant;
use crate::Gateway;

/// The grant of the call's bearer token.
pub async fn bearer(gateway: &Gateway, ctx: &mut RequestCtx<'_>) -> Result<Arc<Grant>, ApiError> {
    let limits = gateway.rate_limits();
    let address = ctx.peer.ip();
    if let Some(state) = limits.blocked(address) {
        ctx.limit = Some(state);
        return Err(too_many(&state));
    }
    let (secret, verified) = match bearer_secret(ctx.parts.headers.get(AUTHORIZATION)) {
        Ok(secret) => (Some(secret), gateway.tokens().verify(secret).await),
        Err(err) => (None, Err(err)),
    };
    match verified {
        Ok(grant) => Ok(grant),
        Err(err) if err.status == Status::Unauthorized => {
            gateway.metrics().auth_failures.increment(1);
            let prefix = secret.map(token_prefix).unwrap_or("");
            tracing::warn!(
                client = %address,
                token_prefix = prefix,
                reason = %err.summary,
                "authentication failed"
            );
            match limits.failed_auth(address) {
                Some(state) if state.denied => {
                    ctx.limit = Some(state);
                    Err(too_many(&state))
                }
                state => {
                    ctx.limit = state;
                    Err(err)
                }
            }
        }
        Err(err) => Err(err),
    }
}

/// Sets the call's grant: the bearer token's, or nobody's for a public
/// action.
pub async fn for_action(
    gateway: &Gateway,
    ctx: &mut RequestCtx<'_>,
    service: &'static str,
    spec: &ActionSpec,
) -> Result<(), ApiError> {
    let role = match spec.access {
        Access::Public => {
            ctx.grant = Some(Grant::public());
            return Ok(());
        }
        Access::Token(role) => role,
        // Never routed; refused the same as an unknown path would be.
        Access::Internal => {
            return Err(ApiError::new(
                Status::NotFound,
                "No route for this path: it is run only by the gateway itself",
            ))
        }
    };
    let grant = bearer(gateway, ctx).await?;
    if !grant.allows(service) {
        return Err(ApiError::new(
            Status::ServiceNotEnabled,
            format!("This token is not enabled for the {service} service; create one that is with `actiongate token create --services {service}`"),
        ));
    }
    // A project-scoped action is weighed in its project by `authorize`;
    // here only the token's cap can refuse it.
    let place = match spec.scope {
        Scope::Org => Place::Org(None),
        _ => Place::UnnamedProject,
    };
    let asked = Asked {
        service,
        path: spec.path,
        least: role,
    };
    authz::decide(&grant.principal, asked, place)?;
    ctx.grant = Some(grant);
    Ok(())
}

fn bearer_secret(value: Option<&http::HeaderValue>) -> Result<&str, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::new(
            Status::Unauthorized,
            "Missing token: send the header `Authorization: Bearer <token>`",
        )
    })?;
    let malformed = || {
        ApiError::new(
            Status::Unauthorized,
            "Malformed Authorization header: expected `Bearer <token>`",
        )
    };
    let text = value.to_str().map_err(|_| malformed())?;
    let (scheme, secret) = text.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed());
    }
    Ok(secret.trim())
}

/// What of a presented token may be logged: the `agt_` prefix if it has
/// it, never any of the secret.
fn token_prefix(secret: &str) -> &'static str {
    if secret.starts_with(crate::tokens::PREFIX) {
        crate::tokens::PREFIX
    } else {
        "(other)"
    }
}

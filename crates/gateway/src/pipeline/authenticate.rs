//! Phase 2: authenticate the bearer token and check it is enabled for the
//! service. The token itself never reaches a log or a summary.

use std::sync::Arc;

use actiongate_wire::{ApiError, Status};
use http::header::AUTHORIZATION;
use http::HeaderMap;

use crate::tokens::{Grant, TokenVerifier};

/// The grant of the call's bearer token.
pub async fn bearer(tokens: &TokenVerifier, headers: &HeaderMap) -> Result<Arc<Grant>, ApiError> {
    let value = headers.get(AUTHORIZATION).ok_or_else(|| {
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
    tokens.verify(secret.trim()).await
}

/// `ServiceNotEnabled` unless the token may call `service`.
pub fn service_enabled(grant: &Grant, service: &str) -> Result<(), ApiError> {
    if grant.allows(service) {
        Ok(())
    } else {
        Err(ApiError::new(
            Status::ServiceNotEnabled,
            format!("This token is not enabled for the {service} service; create one that is with `actiongate token create --services {service}`"),
        ))
    }
}

//! Phase 6: replay. A call that repeats an earlier one gets that one's
//! outcome instead of running again:
//!
//! - `Idempotency-Key: <key>`: the first call with a key (per token, kept
//!   `idempotency_ttl`) is recorded before it runs; a repeat with the same
//!   body gets its response, or its 202 while it runs. The same key on a
//!   different call is `IdempotencyKeyReused`.
//! - `X-Pangea-Retried-Request-Ids: <id>,<id>`: the SDKs' retry header. If
//!   one of the named attempts reached the gateway, by the same token, for
//!   the same action and body, and left a record (every job does, and so
//!   does every synchronous call that wrote), its outcome is the answer.
//!   A read-only call leaves none and simply runs again.
//!
//! Either way the earlier call is replayed only to a token that could have
//! made it ([`super::reach`]).

use actiongate_entity::job;
use actiongate_wire::{ApiError, RequestId, Status, Timestamp};
use http::HeaderMap;

use super::context::RequestCtx;
use super::reach;
use super::respond::Reply;
use crate::tokens::sha256_hex;
use crate::Gateway;

/// The most earlier attempts one retry may name.
const MAX_RETRIED: usize = 16;
/// The longest idempotency key.
const MAX_KEY: usize = 255;

/// What the headers say about earlier attempts of this call.
#[derive(Default)]
pub struct Repeat {
    pub idempotency_key: Option<String>,
    pub retried: Vec<RequestId>,
}

impl Repeat {
    pub fn read(headers: &HeaderMap) -> Result<Repeat, ApiError> {
        let idempotency_key = match headers.get("idempotency-key") {
            None => None,
            Some(value) => {
                let key = value
                    .to_str()
                    .ok()
                    .filter(|key| {
                        (1..=MAX_KEY).contains(&key.len())
                            && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_field(
                            "header:Idempotency-Key",
                            "InvalidValue",
                            format!(
                                "An Idempotency-Key is 1 to {MAX_KEY} printable ASCII characters"
                            ),
                        )
                    })?;
                Some(key.to_owned())
            }
        };
        // Ids that do not parse name no attempt of ours; they are ignored.
        let retried = headers
            .get_all("x-pangea-retried-request-ids")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|id| RequestId::parse(id.trim()).ok())
            .take(MAX_RETRIED)
            .collect();
        Ok(Repeat {
            idempotency_key,
            retried,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.idempotency_key.is_none() && self.retried.is_empty()
    }
}

/// Which action a call was for, as recorded in the job table.
pub struct Called<'a> {
    pub service: &'a str,
    pub version: &'a str,
    /// The action's path (for an upstream call, the path as called).
    pub path: &'a str,
}

/// The earlier call's answer, if this call repeats one.
pub async fn earlier(
    gateway: &Gateway,
    ctx: &RequestCtx<'_>,
    called: &Called<'_>,
    body: &[u8],
    repeat: &Repeat,
) -> Result<Option<Reply>, ApiError> {
    if repeat.is_empty() {
        return Ok(None);
    }
    let grant = ctx.grant();
    let reaches = |row: job::Model| async move {
        let reached = reach::reaches(gateway, grant, &row)
            .await
            .map_err(unavailable)?;
        Ok::<_, ApiError>(reached.then_some(row))
    };
    let jobs = gateway.jobs();
    let hash = sha256_hex(body);
    let same_call = |row: &job::Model| {
        row.service == called.service
            && row.version == called.version
            && row.action == called.path
            && row.input_hash.as_deref() == Some(hash.as_str())
    };
    if let Some(key) = &repeat.idempotency_key {
        let found = jobs
            .find_by_key(&grant.principal.token_id, key)
            .await
            .map_err(unavailable)?;
        if let Some(row) = found {
            let Some(row) = reaches(row).await? else {
                return Ok(None);
            };
            if !same_call(&row) {
                return Err(ApiError::new(
                    Status::IdempotencyKeyReused,
                    format!(
                        "The Idempotency-Key {key:?} was used by this token for a different call ({}/{}/{}); use a new key",
                        row.service, row.version, row.action
                    ),
                ));
            }
            return Ok(Some(reply_for(gateway, ctx, &row)));
        }
    }
    for id in &repeat.retried {
        let found = jobs.find_live(&id.to_string()).await.map_err(unavailable)?;
        if let Some(row) =
            found.filter(|row| row.token_id == grant.principal.token_id && same_call(row))
        {
            if let Some(row) = reaches(row).await? {
                return Ok(Some(reply_for(gateway, ctx, &row)));
            }
        }
    }
    Ok(None)
}

/// A recorded call's answer: its stored envelope, or 202 while it runs.
pub fn reply_for(gateway: &Gateway, ctx: &RequestCtx<'_>, row: &job::Model) -> Reply {
    let request_id = RequestId::parse(&row.request_id).unwrap_or(ctx.request_id);
    match (&row.response, row.http_code) {
        (Some(body), Some(http_code)) => Reply::Stored {
            request_id,
            http_code: u16::try_from(http_code).unwrap_or(500),
            body: body.clone().into_bytes(),
            upstream_request_id: row.upstream_request_id.clone(),
        },
        _ => Reply::accepted(
            gateway,
            ctx,
            request_id,
            Timestamp::from_unix_ms(row.request_time),
            u64::try_from(row.poll_count).unwrap_or(0),
            // This node's figure is the freshest; another node's is stored.
            gateway
                .jobs()
                .progress(&row.request_id)
                .or_else(|| row.progress.and_then(|p| u8::try_from(p).ok())),
        ),
    }
}

/// The job table could not be read: nothing was done, the caller may retry.
pub fn unavailable(err: sea_orm::DbErr) -> ApiError {
    tracing::error!(error = %err, "job table unavailable");
    ApiError::new(
        Status::ServiceNotAvailable,
        "The job table is unavailable; retry shortly",
    )
}

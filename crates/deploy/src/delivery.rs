//! Webhook deliveries: durable, at least once, through the job engine.
//!
//! 1. [`on_activity_events`] takes activities' changes of state from the
//!    gateway's outbox. For each webhook of the activity's project whose
//!    patterns take one of the event's names (the activity's type, and
//!    `activity.<state>`), it records a delivery, its payload made then
//!    (the activity, as `activity/get` shows it), and starts a job of the
//!    internal action `integration/deliver`, all in the outbox's
//!    transaction.
//! 2. [`deliver`] makes one attempt: it checks the destination again,
//!    POSTs the payload signed `X-Actiongate-Signature: t=<unix>,v1=<hex
//!    HMAC-SHA256 of "t.body">` (Stripe's scheme) with the stable
//!    `X-Actiongate-Delivery` id, and records the attempt. Without a 2xx it
//!    schedules the next attempt as a new job, due after a backoff
//!    doubling from 1 s to at most 1 h, until `retry_for` (24 h) has
//!    passed since the event. A gateway killed meanwhile leaves the due job
//!    in the table for any node.
//! 3. A delivery that ended (delivered, given up, abandoned) is kept, with
//!    its attempts, for [`KEPT_FOR`] after it was made, then swept
//!    ([`sweep_expired`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actiongate_entity::job;
use actiongate_kit::fields;
use actiongate_service::secrets::{Keyring, Sealed};
use actiongate_service::{ActionResult, ActivityEvent, Ctx, NewJob};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use ring::hmac;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use crate::api::activity::Activity;
use crate::config::Settings as Config;
use crate::entity::{delivery, delivery_attempt, integration};
use crate::integration::{destination, matches};

/// The longest wait between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(60 * 60);

/// How long a delivery that ended is kept (its record and its attempts,
/// for `integration/deliveries`).
pub const KEPT_FOR: Duration = Duration::from_secs(30 * 24 * 60 * 60);

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";
const ABANDONED: &str = "abandoned";

/// The internal action's input.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Deliver {
    pub delivery_id: String,
}

/// What an attempt came to.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Delivered {
    pub delivery_id: String,
    /// `delivered`, `pending` (another attempt is due), `failed` (given up)
    /// or `abandoned`.
    pub status: String,
    pub attempts: i32,
}

/// The delivery job of `delivery`, due at `due_at` (now if unset).
fn delivery_job(delivery: &delivery::Model, activity: &job::Model, due_at: Option<i64>) -> NewJob {
    NewJob {
        service: "deploy",
        version: "v1",
        action: "integration/deliver",
        input: serde_json::to_vec(&Deliver {
            delivery_id: delivery.id.clone(),
        })
        .expect("an id serializes"),
        org_id: activity.org_id.clone(),
        user_id: activity.user_id.clone(),
        due_at,
    }
}

/// Records a delivery, and starts its job, for each webhook that takes
/// each event (see `Service::on_activity_events`).
pub fn on_activity_events<'a>(
    txn: &'a DatabaseTransaction,
    events: &'a [ActivityEvent],
) -> BoxFuture<'a, Result<Vec<NewJob>, DbErr>> {
    Box::pin(async move {
        let ids: Vec<&str> = events.iter().map(|e| e.request_id.as_str()).collect();
        let activities: HashMap<String, job::Model> = job::Entity::find()
            .filter(job::Column::RequestId.is_in(ids))
            .filter(job::Column::ActivityProjectId.is_not_null())
            .all(txn)
            .await?
            .into_iter()
            .map(|row| (row.request_id.clone(), row))
            .collect();
        let projects: Vec<&str> = activities
            .values()
            .filter_map(|a| a.activity_project_id.as_deref())
            .collect();
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let hooks = integration::Entity::find()
            .filter(integration::Column::ProjectId.is_in(projects))
            .all(txn)
            .await?;
        let mut jobs = Vec::new();
        for event in events {
            let Some(activity) = activities.get(&event.request_id) else {
                continue;
            };
            let kind = activity.activity_type.clone().unwrap_or_default();
            let event_name = format!("activity.{}", event.state);
            let names = [kind.as_str(), event_name.as_str()];
            for hook in hooks
                .iter()
                .filter(|h| Some(h.project_id.as_str()) == activity.activity_project_id.as_deref())
            {
                let patterns: Vec<String> = serde_json::from_str(&hook.events).unwrap_or_default();
                if !patterns
                    .iter()
                    .any(|p| names.iter().any(|name| matches(p, name)))
                {
                    continue;
                }
                let payload = serde_json::to_string(&Activity::from(activity.clone()))
                    .expect("an activity serializes");
                let made = delivery::ActiveModel {
                    id: Set(new_id("dlv")),
                    integration_id: Set(hook.id.clone()),
                    project_id: Set(hook.project_id.clone()),
                    activity_id: Set(activity.request_id.clone()),
                    event: Set(event_name.clone()),
                    payload: Set(payload),
                    status: Set(PENDING.to_owned()),
                    attempts: Set(0),
                    created_at: Set(event.at),
                    delivered_at: Set(None),
                    next_attempt_at: Set(Some(fields::now())),
                }
                .insert(txn)
                .await?;
                jobs.push(delivery_job(&made, activity, None));
            }
        }
        Ok(jobs)
    })
}

/// The wait before attempt `next` (2 for the first retry): 1 s, doubling,
/// at most [`BACKOFF_MAX`].
fn backoff(next: i32) -> Duration {
    let doublings = u32::try_from(next.saturating_sub(2)).unwrap_or(0).min(20);
    (Duration::from_secs(1) * 2u32.saturating_pow(doublings)).min(BACKOFF_MAX)
}

/// `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
fn signature(secret: &[u8], at: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut signed = format!("{at}.").into_bytes();
    signed.extend_from_slice(body);
    let tag = hmac::sign(&key, &signed);
    let bytes: [u8; 32] = tag.as_ref().try_into().expect("HMAC-SHA256 is 32 bytes");
    format!("t={at},v1={}", actiongate_service::hex(&bytes))
}

/// One POST of a delivery: the receiver's status code, or what went wrong.
async fn post(
    hook: &integration::Model,
    found: &delivery::Model,
    secret: &[u8],
    settings: &crate::config::Webhooks,
) -> Result<u16, String> {
    let (url, addresses) = destination(&hook.url, settings.allow_private, "/url")
        .await
        .map_err(|err| {
            err.errors.first().map_or(err.summary.clone(), |e| {
                format!("refused: the URL {}", e.detail)
            })
        })?;
    let host = url.host_str().unwrap_or_default().to_owned();
    // Connect to the addresses just checked, not to a second lookup's.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(settings.timeout)
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|err| format!("no HTTP client: {err}"))?;
    let at = fields::now() / 1000;
    let body = found.payload.clone().into_bytes();
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "actiongate-webhooks")
        .header("x-actiongate-delivery", &found.id)
        .header("x-actiongate-event", &found.event)
        .header("x-actiongate-signature", signature(secret, at, &body))
        .body(body)
        .send()
        .await
        .map_err(|err| {
            if err.is_timeout() {
                "no answer within the timeout".to_owned()
            } else if err.is_connect() {
                "the connection failed".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
    Ok(answer.status().as_u16())
}

/// One attempt of a delivery (the internal action `integration/deliver`).
pub async fn deliver(ctx: Ctx, input: Deliver) -> ActionResult<Delivered> {
    let settings = ctx.state::<Config>().webhooks.clone();
    let Some(found) = delivery::Entity::find_by_id(&input.delivery_id)
        .one(ctx.read())
        .await?
    else {
        // Deleted with its integration.
        return Ok(Delivered {
            delivery_id: input.delivery_id,
            status: ABANDONED.to_owned(),
            attempts: 0,
        });
    };
    if found.status != PENDING {
        // Run again after its result was stored: nothing left to do.
        return Ok(Delivered {
            delivery_id: found.id,
            status: found.status,
            attempts: found.attempts,
        });
    }
    let hook = integration::Entity::find_by_id(&found.integration_id)
        .one(ctx.read())
        .await?;
    let attempt = found.attempts + 1;
    let started = Instant::now();
    let sent = match &hook {
        None => Err(ABANDONED.to_owned()),
        Some(hook) => {
            let sealed = Sealed {
                key_id: hook.key_id.clone(),
                text: hook.secret.clone(),
            };
            match ctx.state::<Arc<Keyring>>().open(&sealed) {
                Ok(secret) => post(hook, &found, &secret, &settings).await,
                Err(err) => Err(err.to_string()),
            }
        }
    };
    let latency = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = fields::now();
    let txn = ctx.begin_write().await?;
    let activity = job::Entity::find_by_id(&found.activity_id)
        .one(&txn)
        .await?;
    let (status, error) = match &sent {
        Ok(code) if (200..300).contains(code) => (DELIVERED, None),
        Ok(code) => (PENDING, Some(format!("answered {code}"))),
        Err(why) if why == ABANDONED => (ABANDONED, None),
        Err(why) => (PENDING, Some(why.clone())),
    };
    let retry_for = i64::try_from(settings.retry_for.as_millis()).unwrap_or(i64::MAX);
    let status = if status == PENDING && now.saturating_sub(found.created_at) >= retry_for {
        FAILED
    } else {
        status
    };
    if status != ABANDONED {
        delivery_attempt::ActiveModel {
            id: Set(new_id("dat")),
            delivery_id: Set(found.id.clone()),
            integration_id: Set(found.integration_id.clone()),
            attempt: Set(attempt),
            status_code: Set(sent.as_ref().ok().map(|code| i32::from(*code))),
            latency_ms: Set(latency),
            error: Set(error),
            at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let mut next_at = None;
    if status == PENDING {
        let due = now.saturating_add(i64::try_from(backoff(attempt + 1).as_millis()).unwrap_or(0));
        if let Some(activity) = &activity {
            let (_, statement) = ctx.requests().schedule(
                txn.get_database_backend(),
                delivery_job(&found, activity, Some(due)),
            );
            txn.execute(statement).await?;
            next_at = Some(due);
        }
    }
    let id = found.id.clone();
    let mut active = found.into_active_model();
    active.status = Set(status.to_owned());
    active.attempts = Set(attempt);
    active.next_attempt_at = Set(next_at);
    if status == DELIVERED {
        active.delivered_at = Set(Some(now));
    }
    active.update(&txn).await?;
    txn.commit_for(&id).await?;
    Ok(Delivered {
        delivery_id: id,
        status: status.to_owned(),
        attempts: attempt,
    })
}

/// Deletes up to `limit` deliveries that ended more than [`KEPT_FOR`] after
/// they were made, with their attempts (see `Service::sweep_expired`).
pub fn sweep_expired(
    db: &DatabaseConnection,
    now: i64,
    limit: u64,
) -> BoxFuture<'_, Result<u64, DbErr>> {
    Box::pin(async move {
        let before = now.saturating_sub(i64::try_from(KEPT_FOR.as_millis()).unwrap_or(i64::MAX));
        let txn = db.begin().await?;
        let ids: Vec<String> = delivery::Entity::find()
            .select_only()
            .column(delivery::Column::Id)
            .filter(delivery::Column::CreatedAt.lt(before))
            .filter(delivery::Column::Status.ne(PENDING))
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            return Ok(0);
        }
        delivery_attempt::Entity::delete_many()
            .filter(delivery_attempt::Column::DeliveryId.is_in(ids.clone()))
            .exec(&txn)
            .await?;
        let deleted = delivery::Entity::delete_many()
            .filter(delivery::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(deleted.rows_affected)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour() {
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(40), BACKOFF_MAX);
    }

    #[test]
    fn the_signature_is_an_hmac_of_time_and_body() {
        // HMAC-SHA256("key", "1.{}"), computed independently:
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"1.{}",hashlib.sha256).hexdigest())'
        assert_eq!(
            signature(b"key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}

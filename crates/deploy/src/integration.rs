//! Integrations (Platform.sh's webhook integration):
//! `integration/create|get|list|update|delete`.
//!
//! A webhook takes the events its patterns match (`environment.*`,
//! `activity.complete`, `*`) and is sent each as a signed POST (see
//! [`crate::delivery`]). Its secret is sealed at rest and shown once, at
//! creation. Its URL must not lead inside the network (loopback, private,
//! link-local) unless `[services.deploy.webhooks] allow_private` says so:
//! checked here, and again at every delivery, so that a DNS change cannot
//! turn a hook inward.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_kit::{load, scope};
use actiongate_service::secrets::Keyring;
use actiongate_service::{ActionResult, ApiError, Ctx, Role, Timestamp};
use actiongate_wire::new_id;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set,
};

use crate::api::integration::{
    Attempt, Create, Integration, IntegrationId, Kind, List, ListDeliveries, Update,
};
use crate::config::Settings as Config;
use crate::entity::{delivery, delivery_attempt, integration};

actiongate_kit::project_record!(integration, "integration");

/// The most event patterns one integration takes.
const EVENTS_MAX: usize = 50;

impl From<integration::Model> for Integration {
    fn from(i: integration::Model) -> Self {
        Integration {
            events: serde_json::from_str(&i.events).unwrap_or_default(),
            id: i.id,
            project_id: i.project_id,
            r#type: Kind::Webhook,
            url: i.url,
            secret: None,
            created_at: Timestamp::from_unix_ms(i.created_at),
            updated_at: Timestamp::from_unix_ms(i.updated_at),
        }
    }
}

/// Whether `pattern` takes the event `name`.
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(prefix) => name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == name,
    }
}

/// Checks the event patterns, pointing at the first bad one.
fn events(patterns: Vec<String>) -> Result<Vec<String>, ApiError> {
    if patterns.is_empty() || patterns.len() > EVENTS_MAX {
        return Err(ApiError::invalid_field(
            "/events",
            "InvalidValue",
            format!("give 1 to {EVENTS_MAX} event patterns"),
        ));
    }
    for (i, pattern) in patterns.iter().enumerate() {
        let body = pattern.strip_suffix(".*").unwrap_or(pattern);
        let ok = pattern == "*"
            || (!body.is_empty()
                && body.len() <= 100
                && body.split('.').all(|segment| {
                    !segment.is_empty()
                        && segment
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                }));
        if !ok {
            return Err(ApiError::invalid_field(
                format!("/events/{i}"),
                "InvalidValue",
                "an event pattern is `*`, a dotted name such as `environment.branch` or `activity.complete`, or a prefix ending in `.*`",
            ));
        }
    }
    Ok(patterns)
}

/// A signing secret: 16 to 256 printable characters.
fn secret(value: String) -> Result<String, ApiError> {
    let ok = (16..=256).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(value)
    } else {
        Err(ApiError::invalid_field(
            "/secret",
            "InvalidValue",
            "a secret is 16 to 256 printable characters, without spaces",
        ))
    }
}

/// A fresh secret: `whsec_` and 32 random bytes in hex.
fn new_secret() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    format!("whsec_{}", actiongate_service::hex(&bytes))
}

/// Where a hook may be delivered: its URL parsed, and the addresses its
/// host resolves to now, none of them inside the network unless allowed.
/// `pointer` names the field for the errors.
pub async fn destination(
    url: &str,
    allow_private: bool,
    pointer: &str,
) -> Result<(reqwest::Url, Vec<SocketAddr>), ApiError> {
    let invalid = |detail: String| ApiError::invalid_field(pointer, "InvalidValue", detail);
    let parsed = reqwest::Url::parse(url).map_err(|err| invalid(format!("is not a URL: {err}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || url.len() > 2048 {
        return Err(invalid(
            "must be an http or https URL of at most 2048 characters".into(),
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials".into()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| invalid("has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|_| invalid(format!("its host {host} does not resolve")))?
        .collect();
    if addresses.is_empty() {
        return Err(invalid(format!("its host {host} does not resolve")));
    }
    if !allow_private {
        if let Some(inside) = addresses.iter().find(|a| is_internal(a.ip())) {
            return Err(ApiError::invalid_field(
                pointer,
                "PrivateAddress",
                format!(
                    "its host resolves to {}, an address inside the network; webhooks go to public addresses",
                    inside.ip()
                ),
            ));
        }
    }
    Ok((parsed, addresses))
}

/// Loopback, private, link-local, shared, unspecified or broadcast: not
/// somewhere a webhook should reach.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || a == 0
                // 100.64.0.0/10, carrier-grade NAT.
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                // fc00::/7 unique local, fe80::/10 link-local.
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
        }
    }
}

pub async fn create(ctx: Ctx, input: Create) -> ActionResult<Integration> {
    let events = events(input.events)?;
    let secret = match input.secret {
        Some(given) => self::secret(given)?,
        None => new_secret(),
    };
    let allow_private = ctx.state::<Config>().webhooks.allow_private;
    destination(&input.url, allow_private, "/url").await?;
    let txn = ctx.begin_write().await?;
    let found = scope::project(&ctx, &txn, &input.project_id, Role::Admin).await?;
    let sealed = ctx.state::<Arc<Keyring>>().seal(secret.as_bytes());
    let now = fields::now();
    let created = integration::ActiveModel {
        id: Set(new_id("int")),
        project_id: Set(found.project.id),
        r#type: Set(match input.r#type {
            Kind::Webhook => "webhook".to_owned(),
        }),
        url: Set(input.url),
        events: Set(serde_json::to_string(&events).expect("strings serialize")),
        secret: Set(sealed.text),
        key_id: Set(sealed.key_id),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit_for(&created.id).await?;
    let mut shown = Integration::from(created);
    shown.secret = Some(secret);
    Ok(shown)
}

pub async fn get(ctx: Ctx, input: IntegrationId) -> ActionResult<Integration> {
    Ok(
        load::<integration::Model>(&ctx, ctx.read(), &input.id, Role::Viewer)
            .await?
            .record
            .into(),
    )
}

pub async fn list(ctx: Ctx, input: List) -> ActionResult<Page<Integration>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let query = integration::Entity::find()
        .filter(integration::Column::ProjectId.eq(&input.project_id))
        .order_by_asc(integration::Column::CreatedAt)
        .order_by_asc(integration::Column::Id);
    page::fetch(&ctx, query, offset, limit).await
}

pub async fn update(ctx: Ctx, input: Update) -> ActionResult<Integration> {
    let events = input.events.map(events).transpose()?;
    let secret = input.secret.map(secret).transpose()?;
    if let Some(url) = &input.url {
        let allow_private = ctx.state::<Config>().webhooks.allow_private;
        destination(url, allow_private, "/url").await?;
    }
    let txn = ctx.begin_write().await?;
    let current = load::<integration::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    let mut active = current.into_active_model();
    if let Some(url) = input.url {
        active.url = Set(url);
    }
    if let Some(events) = events {
        active.events = Set(serde_json::to_string(&events).expect("strings serialize"));
    }
    if let Some(secret) = secret {
        let sealed = ctx.state::<Arc<Keyring>>().seal(secret.as_bytes());
        active.secret = Set(sealed.text);
        active.key_id = Set(sealed.key_id);
    }
    active.updated_at = Set(fields::now());
    let updated = active.update(&txn).await?;
    txn.commit_for(&updated.id).await?;
    Ok(updated.into())
}

/// Deletes an integration with its deliveries; deliveries still queued
/// find it gone and stop.
pub async fn delete(ctx: Ctx, input: IntegrationId) -> ActionResult<Integration> {
    let txn = ctx.begin_write().await?;
    let found = load::<integration::Model>(&ctx, &txn, &input.id, Role::Admin)
        .await?
        .record;
    delivery_attempt::Entity::delete_many()
        .filter(delivery_attempt::Column::IntegrationId.eq(&found.id))
        .exec(&txn)
        .await?;
    delivery::Entity::delete_many()
        .filter(delivery::Column::IntegrationId.eq(&found.id))
        .exec(&txn)
        .await?;
    integration::Entity::delete_by_id(&found.id)
        .exec(&txn)
        .await?;
    txn.commit_for(&found.id).await?;
    Ok(found.into())
}

/// An integration's delivery attempts, newest first.
pub async fn deliveries(ctx: Ctx, input: ListDeliveries) -> ActionResult<Page<Attempt>> {
    let (offset, limit) = page::bounds(input.offset, input.limit)?;
    let found = load::<integration::Model>(&ctx, ctx.read(), &input.id, Role::Viewer)
        .await?
        .record;
    let query = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::IntegrationId.eq(&found.id))
        .order_by_desc(delivery_attempt::Column::At)
        .order_by_desc(delivery_attempt::Column::Id);
    let attempts: Page<delivery_attempt::Model> = page::fetch(&ctx, query, offset, limit).await?;
    let ids: Vec<String> = attempts
        .results
        .iter()
        .map(|a| a.delivery_id.clone())
        .collect();
    let of: std::collections::HashMap<String, delivery::Model> = delivery::Entity::find()
        .filter(delivery::Column::Id.is_in(ids))
        .all(ctx.read())
        .await?
        .into_iter()
        .map(|d| (d.id.clone(), d))
        .collect();
    let results = attempts
        .results
        .into_iter()
        .map(|a| {
            let delivery = of.get(&a.delivery_id);
            Attempt {
                activity_id: delivery.map(|d| d.activity_id.clone()).unwrap_or_default(),
                event: delivery.map(|d| d.event.clone()).unwrap_or_default(),
                delivery_status: delivery.map(|d| d.status.clone()).unwrap_or_default(),
                id: a.id,
                delivery_id: a.delivery_id,
                attempt: a.attempt,
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error,
                at: Timestamp::from_unix_ms(a.at),
            }
        })
        .collect();
    Ok(Page {
        results,
        count: attempts.count,
        offset: attempts.offset,
    })
}

/// Every webhook secret sealed by another key than the primary, sealed
/// again under it (see `Service::reseal_secrets`).
pub fn reseal_secrets<'a>(
    txn: &'a sea_orm::DatabaseTransaction,
    keyring: &'a Keyring,
) -> futures_util::future::BoxFuture<'a, Result<u64, sea_orm::DbErr>> {
    Box::pin(async move {
        let stale = integration::Entity::find()
            .filter(integration::Column::KeyId.ne(keyring.primary()))
            .all(txn)
            .await?;
        let mut resealed = 0;
        for row in stale {
            let sealed = actiongate_service::secrets::Sealed {
                key_id: row.key_id.clone(),
                text: row.secret.clone(),
            };
            let Some(again) = keyring
                .reseal(&sealed)
                .map_err(|err| sea_orm::DbErr::Custom(err.to_string()))?
            else {
                continue;
            };
            let mut active = row.into_active_model();
            active.secret = Set(again.text);
            active.key_id = Set(again.key_id);
            active.update(txn).await?;
            resealed += 1;
        }
        Ok(resealed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_names_and_prefixes() {
        assert!(matches("*", "activity.complete"));
        assert!(matches("environment.*", "environment.branch"));
        assert!(!matches("environment.*", "environments.branch"));
        assert!(!matches("environment.*", "environment"));
        assert!(matches("activity.complete", "activity.complete"));
        assert!(!matches("activity.complete", "activity.pending"));
        assert!(events(vec!["environment.*".into(), "activity.complete".into()]).is_ok());
        assert!(events(vec!["Env.*".into()]).is_err());
        assert!(events(vec!["a..b".into()]).is_err());
        assert!(events(vec![]).is_err());
    }

    #[test]
    fn internal_addresses_are_known() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}

//! The event stream: `event/send|list|count|tags`.
//!
//! Sent events are the service's own tables (`events`, their tags in
//! `event_tags`, every pair ever sent in `event_tag_values`), kept
//! `event_ttl` and swept in batches. The audit trail joins the stream as it
//! is read, for the organization's admins only (as `audit/list` is theirs):
//! each audit event is a `Platform` event of severity `info`, tagged
//! `actor`, `action`, `target` and `request_id`. A list reads a page from
//! each source in index order and merges the two.

use std::collections::{BTreeMap, HashMap};

use crate::api::event::{
    Event, EventCount, EventFilter, EventTags, EventType, ListEvents, ListTags, SendEvent,
    Severity, Tag, TagValues,
};
use crate::entity::{event, event_tag, event_tag_value};
use crate::Settings;
use actiongate_entity::audit_event;
use actiongate_kit::fields;
use actiongate_kit::page::{self, Page};
use actiongate_service::{ActionResult, ApiError, Ctx, Principal, Role, Timestamp};
use actiongate_wire::new_id;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Select, Set, TransactionTrait,
};

const TITLE_MAX: usize = 200;
const MESSAGE_MAX: usize = 10_000;
const TAGS_MAX: usize = 50;
const TAG_KEY_MAX: usize = 254;
const TAG_VALUE_MAX: usize = 254;

/// CSS 2's colour keywords: the only colours an event takes.
const COLORS: [&str; 17] = [
    "aqua", "black", "blue", "fuchsia", "gray", "green", "lime", "maroon", "navy", "olive",
    "orange", "purple", "red", "silver", "teal", "white", "yellow",
];

/// Free text of 1 to `max` characters.
fn required_text(pointer: &str, value: &str, max: usize) -> Result<String, ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            "must not be blank",
        ));
    }
    fields::text(pointer, value, max)
}

/// Tags as given, each checked, each pair once.
fn checked_tags(pointer: &str, tags: &[Tag]) -> Result<Vec<Tag>, ApiError> {
    if tags.len() > TAGS_MAX {
        return Err(ApiError::invalid_field(
            pointer,
            "InvalidValue",
            format!("at most {TAGS_MAX} tags"),
        ));
    }
    let mut checked: Vec<Tag> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let key = required_text(&format!("{pointer}/{i}/key"), &tag.key, TAG_KEY_MAX)?;
        let value = fields::text(&format!("{pointer}/{i}/value"), &tag.value, TAG_VALUE_MAX)?;
        let tag = Tag { key, value };
        if !checked.contains(&tag) {
            checked.push(tag);
        }
    }
    Ok(checked)
}

pub async fn send(ctx: Ctx, input: SendEvent) -> ActionResult<Event> {
    let title = required_text("/title", &input.title, TITLE_MAX)?;
    let message = required_text("/message", &input.message, MESSAGE_MAX)?;
    let tags = checked_tags("/tags", &input.tags)?;
    let icon = input
        .icon
        .map(|icon| {
            fields::accept(
                (3..=100).contains(&icon.chars().count()),
                "/icon",
                &icon,
                || "must be 3 to 100 characters".to_owned(),
            )
        })
        .transpose()?;
    let color = input
        .color
        .map(|color| {
            fields::accept(COLORS.contains(&color.as_str()), "/color", &color, || {
                format!(
                    "{color:?} is not a CSS colour keyword: {}",
                    COLORS.join(", ")
                )
            })
        })
        .transpose()?;
    let principal = &ctx.principal;
    let now = Timestamp::now_ms();
    let ttl = ctx.state::<Settings>().event_ttl;
    let sent = event::Model {
        id: new_id("evt"),
        org_id: principal.org_id.clone(),
        r#type: input.r#type.as_str().to_owned(),
        severity: input.severity.as_str().to_owned(),
        title,
        message,
        icon,
        color,
        user_id: principal.user_id.clone(),
        created_at: now,
        expires_at: now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)),
    };
    let txn = ctx.begin_write().await?;
    event::Entity::insert(event::ActiveModel::from(sent.clone()))
        .exec_without_returning(&txn)
        .await?;
    if !tags.is_empty() {
        event_tag::Entity::insert_many(tags.iter().map(|tag| event_tag::ActiveModel {
            event_id: Set(sent.id.clone()),
            key: Set(tag.key.clone()),
            value: Set(tag.value.clone()),
            org_id: Set(sent.org_id.clone()),
            created_at: Set(now),
        }))
        .exec_without_returning(&txn)
        .await?;
        event_tag_value::Entity::insert_many(tags.iter().map(|tag| event_tag_value::ActiveModel {
            org_id: Set(sent.org_id.clone()),
            key: Set(tag.key.clone()),
            value: Set(tag.value.clone()),
        }))
        .on_conflict(
            OnConflict::columns([
                event_tag_value::Column::OrgId,
                event_tag_value::Column::Key,
                event_tag_value::Column::Value,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    txn.commit_for(&sent.id).await?;
    Ok(sent_event(sent, tags))
}

fn sent_event(row: event::Model, tags: Vec<Tag>) -> Event {
    Event {
        r#type: parse_type(&row.r#type),
        severity: parse_severity(&row.severity),
        id: row.id,
        title: row.title,
        message: row.message,
        tags,
        icon: row.icon,
        color: row.color,
        user_id: row.user_id,
        created_at: Timestamp::from_unix_ms(row.created_at),
    }
}

fn parse_type(stored: &str) -> EventType {
    match stored {
        "Monitoring" => EventType::Monitoring,
        "Platform" => EventType::Platform,
        "Cloud" => EventType::Cloud,
        _ => EventType::Custom,
    }
}

fn parse_severity(stored: &str) -> Severity {
    match stored {
        "warn" => Severity::Warn,
        "err" => Severity::Err,
        "crit" => Severity::Crit,
        _ => Severity::Info,
    }
}

/// An audit event as the stream shows it.
fn audit_as_event(row: audit_event::Model) -> Event {
    let mut tags = vec![
        Tag {
            key: "actor".into(),
            value: row.user_id.clone(),
        },
        Tag {
            key: "action".into(),
            value: row.action.clone(),
        },
    ];
    if let Some(target) = &row.target {
        tags.push(Tag {
            key: "target".into(),
            value: target.clone(),
        });
    }
    tags.push(Tag {
        key: "request_id".into(),
        value: row.request_id.clone(),
    });
    let message = match &row.target {
        Some(target) => format!("{} called {} on {target}", row.user_id, row.action),
        None => format!("{} called {}", row.user_id, row.action),
    };
    Event {
        id: row.id,
        r#type: EventType::Platform,
        severity: Severity::Info,
        title: row.action,
        message,
        tags,
        icon: None,
        color: None,
        user_id: row.user_id,
        created_at: Timestamp::from_unix_ms(row.created_at),
    }
}

/// The filter's window in Unix ms, or a `ValidationError` naming `/begin`.
fn window(filter: &EventFilter) -> Result<(i64, i64), ApiError> {
    let begin = i64::try_from(filter.begin).unwrap_or(i64::MAX);
    let end = i64::try_from(filter.end).unwrap_or(i64::MAX);
    if begin > end {
        return Err(ApiError::invalid_field(
            "/begin",
            "InvalidValue",
            "must not be after end",
        ));
    }
    Ok((begin, end))
}

/// The two queries a filter makes: sent events, and (for admins) audit
/// events, `None` when the filter rules them out.
struct Sources {
    sent: Select<event::Entity>,
    audit: Option<Select<audit_event::Entity>>,
}

impl Sources {
    /// How many events both sources hold.
    async fn count(&self, db: &DatabaseConnection) -> Result<u64, DbErr> {
        let mut count = self.sent.clone().count(db).await?;
        if let Some(audit) = &self.audit {
            count += audit.clone().count(db).await?;
        }
        Ok(count)
    }
}

fn sources(principal: &Principal, filter: &EventFilter) -> Result<Sources, ApiError> {
    let (begin, end) = window(filter)?;
    let tags = filter
        .tags
        .as_deref()
        .map(|tags| checked_tags("/tags", tags))
        .transpose()?;
    let mut sent = event::Entity::find()
        .filter(event::Column::OrgId.eq(&principal.org_id))
        .filter(event::Column::CreatedAt.between(begin, end));
    if let Some(types) = &filter.r#type {
        sent = sent.filter(event::Column::Type.is_in(types.iter().map(|t| t.as_str())));
    }
    if let Some(severities) = &filter.severity {
        sent = sent.filter(event::Column::Severity.is_in(severities.iter().map(|s| s.as_str())));
    }
    if let Some(tags) = &tags {
        let mut any = Condition::any();
        for tag in tags {
            any = any.add(
                Condition::all()
                    .add(event_tag::Column::Key.eq(&tag.key))
                    .add(event_tag::Column::Value.eq(&tag.value)),
            );
        }
        let tagged = Query::select()
            .column(event_tag::Column::EventId)
            .from(event_tag::Entity)
            .and_where(event_tag::Column::OrgId.eq(&principal.org_id))
            .and_where(event_tag::Column::CreatedAt.between(begin, end))
            .cond_where(any)
            .to_owned();
        sent = sent.filter(event::Column::Id.in_subquery(tagged));
    }
    Ok(Sources {
        sent,
        audit: audit_source(principal, filter, tags.as_deref(), begin, end),
    })
}

/// The audit events a filter selects: none for a caller below admin, or
/// when the filter's types, severities or tags exclude every one.
fn audit_source(
    principal: &Principal,
    filter: &EventFilter,
    tags: Option<&[Tag]>,
    begin: i64,
    end: i64,
) -> Option<Select<audit_event::Entity>> {
    if principal.role < Role::Admin {
        return None;
    }
    if filter
        .r#type
        .as_ref()
        .is_some_and(|types| !types.contains(&EventType::Platform))
        || filter
            .severity
            .as_ref()
            .is_some_and(|severities| !severities.contains(&Severity::Info))
    {
        return None;
    }
    let mut audit = audit_event::Entity::find()
        .filter(audit_event::Column::OrgId.eq(&principal.org_id))
        .filter(audit_event::Column::CreatedAt.between(begin, end));
    if let Some(only) = &principal.project_id {
        audit = audit.filter(audit_event::Column::ProjectId.eq(only));
    }
    if let Some(tags) = tags {
        let mut any = Condition::any();
        let mut mapped = false;
        for tag in tags {
            let column = match tag.key.as_str() {
                "actor" => audit_event::Column::UserId,
                "action" => audit_event::Column::Action,
                "target" => audit_event::Column::Target,
                "request_id" => audit_event::Column::RequestId,
                _ => continue,
            };
            any = any.add(column.eq(&tag.value));
            mapped = true;
        }
        if !mapped {
            return None;
        }
        audit = audit.filter(any);
    }
    Some(audit)
}

pub async fn list(ctx: Ctx, input: ListEvents) -> ActionResult<Page<Event>> {
    let (filter, offset, limit) = input.split();
    let (offset, limit) = page::bounds(offset, limit)?;
    let sources = sources(&ctx.principal, &filter)?;
    let db = ctx.read();
    let count = sources.count(db).await?;
    // Enough of each source, newest first, for the page once merged.
    let enough = offset.saturating_add(limit);
    let rows = sources
        .sent
        .order_by_desc(event::Column::CreatedAt)
        .order_by_desc(event::Column::Id)
        .limit(enough)
        .all(db)
        .await?;
    let mut tags = tags_of(db, rows.iter().map(|row| row.id.clone()).collect()).await?;
    let mut events: Vec<Event> = rows
        .into_iter()
        .map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            sent_event(row, tags)
        })
        .collect();
    if let Some(audit) = sources.audit {
        let rows = audit
            .order_by_desc(audit_event::Column::CreatedAt)
            .order_by_desc(audit_event::Column::Id)
            .limit(enough)
            .all(db)
            .await?;
        events.extend(rows.into_iter().map(audit_as_event));
    }
    events.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    let results = events
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect();
    Ok(Page {
        results,
        count,
        offset,
    })
}

/// The tags of the sent events `ids`, by event.
async fn tags_of(
    db: &DatabaseConnection,
    ids: Vec<String>,
) -> Result<HashMap<String, Vec<Tag>>, DbErr> {
    let mut by_event: HashMap<String, Vec<Tag>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_event);
    }
    // Read in key order, each event's tags from its own primary-key range.
    let rows = event_tag::Entity::find()
        .filter(event_tag::Column::EventId.is_in(ids))
        .all(db)
        .await?;
    for row in rows {
        by_event.entry(row.event_id).or_default().push(Tag {
            key: row.key,
            value: row.value,
        });
    }
    for tags in by_event.values_mut() {
        tags.sort_by(|a, b| (&a.key, &a.value).cmp(&(&b.key, &b.value)));
    }
    Ok(by_event)
}

pub async fn count(ctx: Ctx, input: EventFilter) -> ActionResult<EventCount> {
    let count = sources(&ctx.principal, &input)?.count(ctx.read()).await?;
    Ok(EventCount { count })
}

pub async fn tags(ctx: Ctx, _input: ListTags) -> ActionResult<EventTags> {
    let rows = event_tag_value::Entity::find()
        .filter(event_tag_value::Column::OrgId.eq(&ctx.principal.org_id))
        .order_by_asc(event_tag_value::Column::Key)
        .order_by_asc(event_tag_value::Column::Value)
        .all(ctx.read())
        .await?;
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in rows {
        by_key.entry(row.key).or_default().push(row.value);
    }
    Ok(EventTags {
        tags: by_key
            .into_iter()
            .map(|(key, values)| TagValues { key, values })
            .collect(),
    })
}

/// Deletes up to `limit` sent events past their time, with their tags
/// (see `Service::sweep_expired`). The pairs in `event_tag_values` stay:
/// they are the values seen.
pub fn sweep_expired(
    db: &DatabaseConnection,
    now: i64,
    limit: u64,
) -> BoxFuture<'_, Result<u64, DbErr>> {
    Box::pin(async move {
        let pick = Query::select()
            .column(event::Column::Id)
            .from(event::Entity)
            .and_where(event::Column::ExpiresAt.lt(now))
            .order_by(event::Column::ExpiresAt, sea_orm::Order::Asc)
            .order_by(event::Column::Id, sea_orm::Order::Asc)
            .limit(limit)
            .to_owned();
        let txn = db.begin().await?;
        event_tag::Entity::delete_many()
            .filter(event_tag::Column::EventId.in_subquery(pick.clone()))
            .exec(&txn)
            .await?;
        let deleted = event::Entity::delete_many()
            .filter(event::Column::Id.in_subquery(pick))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(deleted.rows_affected)
    })
}

//! The event stream (seed 003's events): what an organization's people and
//! tools send with `event/send`, and, for its admins, the audit trail as
//! `Platform` events tagged `actor`, `action`, `target` and `request_id`.

use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum EventType {
    Custom,
    Monitoring,
    /// The gateway's own: every audit event is one.
    Platform,
    Cloud,
}

impl EventType {
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Custom => "Custom",
            EventType::Monitoring => "Monitoring",
            EventType::Platform => "Platform",
            EventType::Cloud => "Cloud",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Err,
    Crit,
}

impl Severity {
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Err => "err",
            Severity::Crit => "crit",
        }
    }
}

/// One tag: a key of 1 to 254 characters and a value of at most 254.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An event as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Event {
    /// `evt_...` for a sent event; `aud_...` for an audit event.
    pub id: String,
    pub r#type: EventType,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub tags: Vec<Tag>,
    pub icon: Option<String>,
    pub color: Option<String>,
    /// The user who sent it, or whose call the audit event records.
    pub user_id: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SendEvent {
    pub r#type: EventType,
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 10,000 characters.
    pub message: String,
    pub severity: Severity,
    /// At most 50.
    pub tags: Vec<Tag>,
    /// 3 to 100 characters.
    pub icon: Option<String>,
    /// A CSS colour keyword (`red`, `navy`, ...), not a hex value.
    pub color: Option<String>,
}

/// Which events: a time window (both ends required) and, optionally, types,
/// severities and tags. The filters AND together; the values in one filter
/// OR together.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventFilter {
    /// The window's start, Unix milliseconds, inclusive.
    pub begin: u64,
    /// The window's end, Unix milliseconds, inclusive.
    pub end: u64,
    pub r#type: Option<Vec<EventType>>,
    pub severity: Option<Vec<Severity>>,
    /// Events with any of these tags.
    pub tags: Option<Vec<Tag>>,
}

/// An [`EventFilter`] and a page: newest first.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListEvents {
    pub begin: u64,
    pub end: u64,
    pub r#type: Option<Vec<EventType>>,
    pub severity: Option<Vec<Severity>>,
    pub tags: Option<Vec<Tag>>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

impl ListEvents {
    /// The filter, and the page's `(offset, limit)` as given.
    pub fn split(self) -> (EventFilter, Option<u64>, Option<u64>) {
        let filter = EventFilter {
            begin: self.begin,
            end: self.end,
            r#type: self.r#type,
            severity: self.severity,
            tags: self.tags,
        };
        (filter, self.offset, self.limit)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventCount {
    pub count: u64,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListTags {}

/// A tag key and every value sent with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TagValues {
    pub key: String,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventTags {
    pub tags: Vec<TagValues>,
}

//! Integrations (webhooks) and their deliveries.

use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// What kind of integration: webhooks are the one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Webhook,
}

/// An integration as the API shows it; its secret only at creation.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Integration {
    pub id: String,
    pub project_id: String,
    pub r#type: Kind,
    pub url: String,
    pub events: Vec<String>,
    /// Shown once, in the answer to `integration/create`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "CreateIntegration")]
pub struct Create {
    pub project_id: String,
    pub r#type: Kind,
    /// `http://` or `https://`.
    pub url: String,
    /// Patterns of the events to send: an activity type
    /// (`environment.branch`), `activity.<state>` (`activity.complete`),
    /// a prefix with `.*` (`environment.*`), or `*`.
    pub events: Vec<String>,
    /// The signing secret; one is made when left out.
    pub secret: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "UpdateIntegration")]
pub struct Update {
    pub id: String,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// A new signing secret.
    pub secret: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListIntegrations")]
pub struct List {
    pub project_id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IntegrationId {
    pub id: String,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListDeliveries")]
pub struct ListDeliveries {
    /// The integration.
    pub id: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// One attempt to deliver an event.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Attempt {
    pub id: String,
    /// The delivery (its `X-Actiongate-Delivery`), the same on every try.
    pub delivery_id: String,
    pub activity_id: String,
    pub event: String,
    /// 1 for the first try.
    pub attempt: i32,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The delivery's status now: `pending`, `delivered`, `failed` or
    /// `abandoned`.
    pub delivery_status: String,
    pub at: Timestamp,
}

//! The audit trail as the API shows it, and how to filter it.

use actiongate_wire::Timestamp;
use serde::{Deserialize, Serialize};

/// One audit event: who did what, when, by which request.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEvent {
    pub id: String,
    pub request_id: String,
    pub user_id: String,
    pub token_id: String,
    /// `service/version/path`.
    pub action: String,
    pub target: Option<String>,
    /// The project the change was made in, if the action acts in one.
    pub project_id: Option<String>,
    pub created_at: Timestamp,
}

/// Field filters; all that are given must match.
#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "AuditFilter")]
pub struct Filter {
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub request_id: Option<String>,
    pub project_id: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListAudit {
    #[serde(default)]
    pub filter: Filter,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

//! `jobs`: the durable record of every asynchronous request, from the
//! moment its 202 is sent until its result expires.

use sea_orm::entity::prelude::*;

/// A job's states: `queued -> running -> succeeded | failed | cancelled`.
pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";

/// The activity state a job's state shows as: `pending`, `in_progress`,
/// `complete` (succeeded or failed) or `cancelled`.
pub fn activity_state(job_state: &str) -> &'static str {
    match job_state {
        QUEUED => "pending",
        RUNNING => "in_progress",
        CANCELLED => "cancelled",
        _ => "complete",
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    /// The request id (`prq_...`) the caller polls with.
    #[sea_orm(primary_key, auto_increment = false)]
    pub request_id: String,
    pub org_id: String,
    pub user_id: String,
    pub token_id: String,
    /// The caller's role and project limit when the job was accepted; a
    /// resumed job runs with them.
    pub role: Option<String>,
    pub project_id: Option<String>,
    /// The token's role cap, which also caps project roles.
    pub role_cap: Option<String>,
    /// The project the call's declared scope resolved to, if any: polls,
    /// cancels and replays are answered only to tokens that could have
    /// made the call there.
    pub scope_project_id: Option<String>,
    pub service: String,
    pub version: String,
    pub action: String,
    /// The request body as received, so the job can be run again after a
    /// restart.
    #[sea_orm(column_type = "Blob")]
    pub input: Vec<u8>,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub state: String,
    /// The node running the job, or the one that finished it.
    pub node_id: Option<String>,
    /// Until when `node_id`'s claim holds unless renewed (Unix ms); past
    /// it, the job may be claimed again.
    pub lease_until: Option<i64>,
    /// Set by a cancel while running; the handler stops at a checkpoint.
    pub cancel_requested: bool,
    /// The caller's `Idempotency-Key`, unique per token.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the body (hex), so a replay is only of the same call.
    pub input_hash: Option<String>,
    pub attempts: i32,
    pub poll_count: i32,
    /// The final envelope, once finished.
    pub response: Option<String>,
    pub http_code: Option<i32>,
    pub request_time: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// When the finished result is forgotten.
    pub expires_at: Option<i64>,
    /// The W3C `traceparent` of the gateway's span of the request that
    /// made the job: its run continues that trace.
    pub traceparent: Option<String>,
    /// For a call forwarded to an upstream service: how to make it again
    /// (content type, forwarded headers, poll location), as JSON.
    pub upstream_call: Option<String>,
    /// The upstream's own `request_id` in the stored answer, sent again as
    /// `x-upstream-request-id` with it.
    pub upstream_request_id: Option<String>,
    /// Jobs sharing a key run one at a time, in the order accepted.
    pub queue_key: Option<String>,
    /// Set when the job is an activity (`environment.branch`, ...).
    pub activity_type: Option<String>,
    /// The project the activity is listed under.
    pub activity_project_id: Option<String>,
    /// The run's last reported progress, in percent.
    pub progress: Option<i32>,
    /// The run's log lines, as a JSON array of `{at, message}`.
    pub log: Option<String>,
    /// What the run does, in a sentence.
    pub description: Option<String>,
    /// A queued job is not claimed before this time (Unix ms).
    pub due_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

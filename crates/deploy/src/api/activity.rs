//! Activities: the asynchronous operations run on a project's environments,
//! with their state, progress and outcome.

use actiongate_wire::{LogLine, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where an activity stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    InProgress,
    Complete,
    Cancelled,
}

/// How a complete activity ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

/// An activity as the API shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    /// The id of the request that started it.
    pub id: String,
    /// `environment.branch`, `environment.pause`, ...
    pub r#type: String,
    pub project_id: String,
    /// The environment it was started on, and the one it made, if any.
    pub environment_ids: Vec<String>,
    /// Its input.
    pub parameters: Value,
    pub state: State,
    /// Set once complete.
    pub result: Option<Outcome>,
    pub completion_percent: u8,
    pub description: String,
    pub log: Vec<LogLine>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[schemars(rename = "ListActivities")]
pub struct List {
    pub project_id: String,
    /// Only the activities started on this environment.
    pub environment_id: Option<String>,
    /// Any of these types.
    pub r#type: Option<Vec<String>>,
    /// Any of these states.
    pub state: Option<Vec<State>>,
    /// Only complete activities that ended so.
    pub result: Option<Outcome>,
    /// Only those created at or after this time.
    pub since: Option<Timestamp>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActivityId {
    pub id: String,
}

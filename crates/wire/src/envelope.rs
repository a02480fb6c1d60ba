//! The response envelope: exactly six keys, on every response.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{RequestId, Status, Timestamp};

/// Every response body, success or failure, sync or async.
///
/// `R` is the type of `result`: the action's output on success, an
/// [`AcceptedResult`] on `Accepted`, `{"errors": [...]}` or `null` on failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Envelope<R = serde_json::Value> {
    pub request_id: RequestId,
    pub request_time: Timestamp,
    pub response_time: Timestamp,
    pub status: Status,
    pub summary: Cow<'static, str>,
    pub result: R,
}

/// The `result` of a 202: where and how long to poll.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AcceptedResult {
    pub ttl_mins: u64,
    pub retry_counter: u64,
    pub location: String,
    /// How far the work has come, in percent, when its handler reports it
    /// and the node answering the poll is the one running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_percent: Option<u8>,
}

/// One line of a running request's log (what a handler wrote with its
/// context's `log`), as activities show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogLine {
    pub at: Timestamp,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_exactly_six_keys() {
        let env = Envelope {
            request_id: RequestId::new(),
            request_time: Timestamp::now(),
            response_time: Timestamp::now(),
            status: Status::Success,
            summary: "done".into(),
            result: serde_json::json!({}),
        };
        let value = serde_json::to_value(&env).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "request_id",
                "request_time",
                "response_time",
                "result",
                "status",
                "summary"
            ]
        );
    }
}

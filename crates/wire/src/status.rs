//! The one table that maps every protocol status to its HTTP code.
//!
//! The README and the API description repeat this table; `Status::ALL`
//! lets them be generated and checked against the code.

use serde::{Deserialize, Serialize};

macro_rules! statuses {
    ($($variant:ident => $http:literal, $when:literal;)+) => {
        /// A protocol status: `Success`, `Accepted`, or a short error code.
        ///
        /// The names are those the Pangea SDKs already map to exceptions;
        /// keep them exactly as spelled.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum Status {
            $(#[doc = $when] $variant,)+
        }

        impl Status {
            /// Every status, in table order.
            pub const ALL: &'static [Status] = &[$(Status::$variant,)+];

            /// The HTTP status code sent with this status.
            pub const fn http_code(self) -> u16 {
                match self { $(Status::$variant => $http,)+ }
            }

            /// The status as it is spelled on the wire.
            pub const fn as_str(self) -> &'static str {
                match self { $(Status::$variant => stringify!($variant),)+ }
            }

            /// When the gateway answers with this status.
            pub const fn meaning(self) -> &'static str {
                match self { $(Status::$variant => $when,)+ }
            }
        }
    };
}

statuses! {
    Success => 200, "done";
    Accepted => 202, "running asynchronously; poll `location` for the result";
    ValidationError => 400, "parameters fail validation; `result.errors` says which and why";
    InvalidPayloadReceived => 400, "the body is not JSON, or not a JSON object";
    AmbiguousRoute => 400, "several services serve this path; name the service by path prefix or host";
    Unauthorized => 401, "no token, or a malformed, unknown, expired or revoked one";
    ServiceNotEnabled => 403, "the token is not enabled for this service";
    Forbidden => 403, "the token's principal may not do this";
    NotFound => 404, "the URL resolves to no route";
    ResourceNotFound => 404, "the record (or async request) does not exist or is not visible to the caller";
    MethodNotAllowed => 405, "the HTTP method is not allowed on this route (actions are POST)";
    Conflict => 409, "the record conflicts with another one, or was modified elsewhere";
    ResourceInUse => 409, "the record is in use and cannot be deleted";
    Cancelled => 409, "the request was cancelled by its caller before it finished";
    RequestTimeout => 408, "the request did not arrive in full within the configured deadline";
    PayloadTooLarge => 413, "the body is larger than the configured limit";
    IdempotencyKeyReused => 422, "the `Idempotency-Key` was already used by this token for a different call";
    PollLimitExceeded => 429, "the async result was fetched more often than allowed";
    TooManyRequests => 429, "rate limit hit; `Retry-After` says when to come back";
    InternalError => 500, "a bug; the summary names the request id, never internals";
    ProviderError => 502, "a downstream provider failed, not the gateway";
    ServiceNotAvailable => 503, "the service is disabled, draining or down, or its database is briefly away (with `Retry-After`)";
    ProviderTimeout => 504, "an upstream service did not answer within its timeout";
}

impl Status {
    /// The status spelled `name` on the wire, if it is one of the table's.
    pub fn from_wire(name: &str) -> Option<Status> {
        Status::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == name)
    }

    /// Whether this status ends a call successfully.
    pub const fn is_success(self) -> bool {
        matches!(self, Status::Success)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_serde() {
        for status in Status::ALL {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            let back: Status = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *status);
        }
    }

    #[test]
    fn codes_match_the_protocol_table() {
        assert_eq!(Status::Success.http_code(), 200);
        assert_eq!(Status::Accepted.http_code(), 202);
        assert_eq!(Status::ValidationError.http_code(), 400);
        assert_eq!(Status::InvalidPayloadReceived.http_code(), 400);
        assert_eq!(Status::Unauthorized.http_code(), 401);
        assert_eq!(Status::ServiceNotEnabled.http_code(), 403);
        assert_eq!(Status::NotFound.http_code(), 404);
        assert_eq!(Status::TooManyRequests.http_code(), 429);
        assert_eq!(Status::InternalError.http_code(), 500);
        assert_eq!(Status::ProviderError.http_code(), 502);
        assert_eq!(Status::ServiceNotAvailable.http_code(), 503);
        assert_eq!(Status::ProviderTimeout.http_code(), 504);
    }
}

#[cfg(test)]
mod readme {
    use super::Status;

    /// The README shows the status table; it must say what the code does.
    #[test]
    fn readme_table_matches_the_code() {
        let readme = include_str!("../../../README.md");
        let rows: Vec<(String, u16, String)> = readme
            .lines()
            .filter(|line| line.starts_with("| `"))
            .filter_map(|line| {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                let code = cells.get(1)?.parse().ok()?;
                Some((
                    cells[0].trim_matches('`').to_owned(),
                    code,
                    cells.get(2)?.to_string(),
                ))
            })
            .collect();
        let expected: Vec<(String, u16, String)> = Status::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), s.http_code(), s.meaning().to_owned()))
            .collect();
        assert_eq!(rows, expected);
    }
}

//! Request ids (`prq_` and a lower-case ULID) and the prefixed ids of
//! records (`org_...`, `prj_...`).

use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::{Generator, Ulid};

/// One generator per process, so that ids issued within the same
/// millisecond still sort in the order they were issued.
static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

fn next_ulid() -> Ulid {
    let mut generator = GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // `generate` fails only if 2^80 ids were issued in one millisecond.
    generator.generate().unwrap_or_else(|_| Ulid::new())
}

/// The id of one call: `prq_` followed by a lower-case ULID, so ids are
/// unique and sort by the time they were issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(Ulid);

const REQUEST_PREFIX: &str = "prq_";

/// A string that is not a request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequestId;

impl std::fmt::Display for InvalidRequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a request id is `prq_` followed by 26 base32 characters")
    }
}

impl std::error::Error for InvalidRequestId {}

impl RequestId {
    pub fn new() -> Self {
        RequestId(next_ulid())
    }

    pub fn parse(text: &str) -> Result<Self, InvalidRequestId> {
        let body = text.strip_prefix(REQUEST_PREFIX).ok_or(InvalidRequestId)?;
        // ULIDs are case-insensitive; we issue lower case but accept either.
        Ulid::from_string(body)
            .map(RequestId)
            .map_err(|_| InvalidRequestId)
    }

    /// Milliseconds since the Unix epoch at which the id was issued.
    pub fn timestamp_ms(self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestId {
    /// The id's text, `prq_` and the lower-case ULID, without allocating.
    pub fn encode(self) -> [u8; 30] {
        let mut out = [0u8; 30];
        out[..4].copy_from_slice(REQUEST_PREFIX.as_bytes());
        let mut buf = [0u8; ulid::ULID_LEN];
        let upper = self.0.array_to_str(&mut buf);
        out[4..].copy_from_slice(upper.as_bytes());
        out[4..].make_ascii_lowercase();
        out
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.encode();
        // Prefix and Crockford base32 digits are ASCII.
        f.write_str(std::str::from_utf8(&text).map_err(|_| std::fmt::Error)?)
    }
}

impl std::str::FromStr for RequestId {
    type Err = InvalidRequestId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl schemars::JsonSchema for RequestId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RequestId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^prq_[0-9A-Za-z]{26}$",
            "description": "`prq_` and a ULID, which sorts by the time it was issued",
        })
    }
}

impl Serialize for RequestId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RequestId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A new record id: the type prefix (`org`, `prj`, `tok`, ...), an
/// underscore, and a lower-case ULID.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", next_ulid().to_string().to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_is_prefixed_lowercase_ulid() {
        let id = RequestId::new();
        let text = id.to_string();
        assert!(text.starts_with("prq_"));
        assert_eq!(text.len(), 4 + 26);
        assert_eq!(text, text.to_ascii_lowercase());
        assert_eq!(RequestId::parse(&text), Ok(id));
        assert_eq!(
            RequestId::parse(&text.to_ascii_uppercase().replace("PRQ_", "prq_")),
            Ok(id)
        );
    }

    #[test]
    fn rejects_other_strings() {
        assert!(RequestId::parse("prq_").is_err());
        assert!(RequestId::parse("org_01jd8x3m9kq2f6w7v5t4s3r2p1").is_err());
        assert!(RequestId::parse("prq_../../etc").is_err());
    }

    #[test]
    fn ids_sort_in_issue_order() {
        let ids: Vec<RequestId> = (0..1000).map(|_| RequestId::new()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert!(texts.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn record_ids_carry_their_prefix() {
        let id = new_id("prj");
        assert!(id.starts_with("prj_") && id.len() == 30);
    }
}
